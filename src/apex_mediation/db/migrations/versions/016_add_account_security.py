"""Account hardening: login throttling and lockout, TOTP two-factor authentication with recovery codes, session rotation.

Revision ID: 016_add_account_security
Revises: 015_add_runtime_tuning
"""

from __future__ import annotations

revision = "016_add_account_security"
down_revision = "015_add_runtime_tuning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
