"""Bounded run-time tuning: the self-evolving system's second kind of change.

`runtime_settings` holds the allow-listed knobs' current values (bidder deadlines, circuit
breakers, the creative cache's TTL) and the operator's permission for tuning to apply without
a decision; every serving process reads it every few seconds. Optimisation records gain the
`tune_setting` action, whose change is data (`change`: key, from, to) rather than SQL, and
snapshots gain the creative cache's hit and expiry counts.

Revision ID: 015_add_runtime_tuning
Revises: 012_add_system_metrics
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "015_add_runtime_tuning"
down_revision = "012_add_system_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runtime_settings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_runtime_settings")),
    )
    op.drop_constraint(
        op.f("ck_optimization_records_action"), "optimization_records", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_optimization_records_action"),
        "optimization_records",
        "action IN ('create_index', 'tune_setting')",
    )
    op.alter_column("optimization_records", "apply_sql", nullable=True)
    op.alter_column("optimization_records", "rollback_sql", nullable=True)
    op.add_column(
        "optimization_records",
        sa.Column("change", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_optimization_records_change_or_sql"),
        "optimization_records",
        "(action = 'tune_setting' AND change IS NOT NULL) "
        "OR (action <> 'tune_setting' AND apply_sql IS NOT NULL AND rollback_sql IS NOT NULL)",
    )
    op.add_column(
        "system_snapshots",
        sa.Column(
            "caches",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("system_snapshots", "caches")
    op.execute("DELETE FROM optimization_records WHERE action = 'tune_setting'")
    op.drop_constraint(
        op.f("ck_optimization_records_change_or_sql"), "optimization_records", type_="check"
    )
    op.drop_column("optimization_records", "change")
    op.alter_column("optimization_records", "rollback_sql", nullable=False)
    op.alter_column("optimization_records", "apply_sql", nullable=False)
    op.drop_constraint(
        op.f("ck_optimization_records_action"), "optimization_records", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_optimization_records_action"), "optimization_records", "action IN ('create_index')"
    )
    op.drop_table("runtime_settings")
