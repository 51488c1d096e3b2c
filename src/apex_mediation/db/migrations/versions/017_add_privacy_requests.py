"""Privacy: data-export and erasure requests with their receipts, retention runs.

Revision ID: 017_add_privacy_requests
Revises: 016_add_account_security
"""

from __future__ import annotations

revision = "017_add_privacy_requests"
down_revision = "016_add_account_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
