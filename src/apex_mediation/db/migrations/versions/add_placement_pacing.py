"""Frequency capping and pacing per placement: impressions per device per hour and per day, and
the minimum seconds between two impressions.

Revision ID: add_placement_pacing
Revises: 011_add_audit_logs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "add_placement_pacing"
down_revision = "011_add_audit_logs"
branch_labels = None
depends_on = None

COLUMNS = ("fcap_per_hour", "fcap_per_day", "min_interval_s")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("placements", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("placements", name)
