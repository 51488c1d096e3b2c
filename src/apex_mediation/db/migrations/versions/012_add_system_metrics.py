"""System snapshots (the system measuring itself every hour) and incidents (thresholds
crossed, open until a later snapshot is back within bounds).

Revision ID: 012_add_system_metrics
Revises: 013_add_optimization_records
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "012_add_system_metrics"
down_revision = "013_add_optimization_records"
branch_labels = None
depends_on = None


def _json(name: str, default: bool = False) -> sa.Column[postgresql.JSONB]:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text("'{}'") if default else None,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "system_snapshots",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        _json("routes"),
        _json("bidders"),
        _json("database"),
        sa.Column("slow_statements", sa.Integer(), nullable=True),
        sa.Column("ingest_lag_ms", sa.BigInteger(), nullable=False),
        sa.Column("queue_lag_s", sa.BigInteger(), nullable=False),
        _json("raw"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_snapshots")),
        sa.UniqueConstraint("taken_at", name=op.f("uq_system_snapshots_taken_at")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        _json("details", default=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "severity IN ('warning', 'critical')", name=op.f("ck_incidents_severity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "uq_incidents_kind_key_open",
        "incidents",
        ["kind", "key"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index(op.f("ix_incidents_opened_at"), "incidents", ["opened_at"])


def downgrade() -> None:
    op.drop_table("incidents")
    op.drop_table("system_snapshots")
