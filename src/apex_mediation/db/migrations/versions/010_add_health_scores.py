"""Health scores (0-100 per publisher and day, with their four components and churn-risk
band) and the growth engine's interventions (emails, offers, opportunities), with cooldowns.

Revision ID: 010_add_health_scores
Revises: 007_add_lifecycle_stages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "010_add_health_scores"
down_revision = "007_add_lifecycle_stages"
branch_labels = None
depends_on = None

KINDS = "'check_in_email', 'discount_offer', 'upgrade_opportunity', 'expansion_opportunity'"


def _publisher_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["publisher_id"],
        ["publishers.id"],
        name=op.f(f"fk_{table}_publisher_id_publishers"),
        ondelete="CASCADE",
    )


def _details() -> sa.Column[postgresql.JSONB]:
    return sa.Column(
        "details",
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text("'{}'"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "health_scores",
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("traffic_trend", sa.Integer(), nullable=False),
        sa.Column("integration", sa.Integer(), nullable=False),
        sa.Column("engagement", sa.Integer(), nullable=False),
        sa.Column("payment", sa.Integer(), nullable=False),
        sa.Column("churn_risk", sa.Text(), nullable=False),
        sa.Column(
            "facts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_health_scores_score")),
        sa.CheckConstraint(
            "churn_risk IN ('low', 'medium', 'high')", name=op.f("ck_health_scores_churn_risk")
        ),
        _publisher_fk("health_scores"),
        sa.PrimaryKeyConstraint("publisher_id", "day", name=op.f("pk_health_scores")),
    )
    op.create_table(
        "growth_narratives",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("week_start", name=op.f("pk_growth_narratives")),
    )
    op.create_table(
        "growth_interventions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _details(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_growth_interventions_kind")),
        _publisher_fk("growth_interventions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_interventions")),
    )
    op.create_index(
        op.f("ix_growth_interventions_publisher_id_kind_created_at"),
        "growth_interventions",
        ["publisher_id", "kind", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("growth_interventions")
    op.drop_table("growth_narratives")
    op.drop_table("health_scores")
