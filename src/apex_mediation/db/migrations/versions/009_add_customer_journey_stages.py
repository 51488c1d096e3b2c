"""Customer journeys: each publisher's stage from signup to converted or lost, its engagement
and conversion-probability scores, and the history of every stage change.

Revision ID: 009_add_customer_journey_stages
Revises: add_job_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "009_add_customer_journey_stages"
down_revision = "add_job_runs"
branch_labels = None
depends_on = None

STAGES = "'signup', 'activation', 'engagement', 'evaluation', 'converted', 'lost'"


def upgrade() -> None:
    op.create_table(
        "customer_journeys",
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), server_default="signup", nullable=False),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("engagement_score", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "conversion_probability_ppm", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"stage IN ({STAGES})", name=op.f("ck_customer_journeys_stage")),
        sa.CheckConstraint(
            "engagement_score BETWEEN 0 AND 100", name=op.f("ck_customer_journeys_engagement_score")
        ),
        sa.CheckConstraint(
            "conversion_probability_ppm BETWEEN 0 AND 1000000",
            name=op.f("ck_customer_journeys_conversion_probability_ppm"),
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_customer_journeys_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("publisher_id", name=op.f("pk_customer_journeys")),
    )
    op.create_table(
        "customer_journey_history",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"to_stage IN ({STAGES})", name=op.f("ck_customer_journey_history_to_stage")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_customer_journey_history_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_journey_history")),
    )
    op.create_index(
        op.f("ix_customer_journey_history_publisher_id_occurred_at"),
        "customer_journey_history",
        ["publisher_id", "occurred_at"],
    )
    # Every publisher already here starts its journey at signup.
    op.execute(
        "INSERT INTO customer_journeys (publisher_id, stage, stage_entered_at) "
        "SELECT id, 'signup', created_at FROM publishers"
    )


def downgrade() -> None:
    op.drop_table("customer_journey_history")
    op.drop_table("customer_journeys")
