"""Optimisation records: the self-evolving system's proposals with their evidence, the
operator's decision, and the measured outcome (verified, or rolled back).

Revision ID: 013_add_optimization_records
Revises: 010_add_health_scores
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "013_add_optimization_records"
down_revision = "010_add_health_scores"
branch_labels = None
depends_on = None

STATUSES = "'proposed', 'approved', 'rejected', 'applied', 'verified', 'rolled_back', 'failed'"


def _at(name: str, nullable: bool = True) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "optimization_records",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("apply_sql", sa.Text(), nullable=False),
        sa.Column("rollback_sql", sa.Text(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("expected_effect", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="proposed", nullable=False),
        _at("proposed_at", nullable=False),
        _at("decided_at"),
        sa.Column("decided_by", sa.Text(), nullable=True),
        _at("applied_at"),
        _at("finished_at"),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("ai_explanation", sa.Text(), nullable=True),
        sa.Column("ai_rank", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "action IN ('create_index')", name=op.f("ck_optimization_records_action")
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_optimization_records_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optimization_records")),
        sa.UniqueConstraint("target", name=op.f("uq_optimization_records_target")),
    )
    op.create_index(
        op.f("ix_optimization_records_status_proposed_at"),
        "optimization_records",
        ["status", "proposed_at"],
    )


def downgrade() -> None:
    op.drop_table("optimization_records")
