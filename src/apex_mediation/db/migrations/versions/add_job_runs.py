"""Scheduled jobs: the record of every run (`job_runs`) and procrastinate's queue, installed in
a schema of its own (`procrastinate`) so that its tables stay apart from the application's.

Revision ID: add_job_runs
Revises: add_ai_cost_controls
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision = "add_job_runs"
down_revision = "add_ai_cost_controls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("period_key", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("outcome", sa.Text(), server_default="running", nullable=False),
        sa.Column(
            "counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'ok', 'failed', 'skipped')",
            name=op.f("ck_job_runs_outcome"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(op.f("ix_job_runs_job_started_at"), "job_runs", ["job", "started_at"])
    op.create_index(
        "uq_job_runs_job_period_done",
        "job_runs",
        ["job", "period_key"],
        unique=True,
        postgresql_where=sa.text("outcome = 'ok' AND NOT dry_run"),
    )
    op.execute("CREATE SCHEMA IF NOT EXISTS procrastinate")
    op.execute("SET LOCAL search_path TO procrastinate")
    op.execute(SchemaManager.get_schema())
    op.execute("SET LOCAL search_path TO public")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS procrastinate CASCADE")
    op.drop_table("job_runs")
