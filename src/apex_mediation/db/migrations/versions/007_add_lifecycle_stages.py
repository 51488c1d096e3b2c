"""Lifecycle stages: trial, onboarding, active, at_risk, churned, reactivated — each
publisher's current stage and every transition.

Revision ID: 007_add_lifecycle_stages
Revises: 014_add_sales_automation_tables
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "007_add_lifecycle_stages"
down_revision = "014_add_sales_automation_tables"
branch_labels = None
depends_on = None

STAGES = "'trial', 'onboarding', 'active', 'at_risk', 'churned', 'reactivated'"


def _publisher_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["publisher_id"],
        ["publishers.id"],
        name=op.f(f"fk_{table}_publisher_id_publishers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "publisher_lifecycles",
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"stage IN ({STAGES})", name=op.f("ck_publisher_lifecycles_stage")),
        _publisher_fk("publisher_lifecycles"),
        sa.PrimaryKeyConstraint("publisher_id", name=op.f("pk_publisher_lifecycles")),
    )
    op.create_table(
        "lifecycle_transitions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"to_stage IN ({STAGES})", name=op.f("ck_lifecycle_transitions_to_stage")
        ),
        _publisher_fk("lifecycle_transitions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_transitions")),
    )
    op.create_index(
        op.f("ix_lifecycle_transitions_publisher_id_occurred_at"),
        "lifecycle_transitions",
        ["publisher_id", "occurred_at"],
    )


def downgrade() -> None:
    op.drop_table("lifecycle_transitions")
    op.drop_table("publisher_lifecycles")
