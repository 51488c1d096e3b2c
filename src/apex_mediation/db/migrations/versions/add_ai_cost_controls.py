"""AI cost controls: run-time flags, the monthly budget with its reservations and alerts, and
the spend ledger (one row per call).

Revision ID: add_ai_cost_controls
Revises: add_billing
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "add_ai_cost_controls"
down_revision = "add_billing"
branch_labels = None
depends_on = None

FLAGS = (
    "ENABLE_AI_AUTOMATION",
    "ENABLE_SALES_AI_OPTIMIZATION",
    "ENABLE_GROWTH_AI_ANALYTICS",
    "ENABLE_SELF_EVOLVING_AI",
)


def _now(name: str = "created_at") -> sa.Column[sa.DateTime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _at(name: str) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "ai_flags",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        _now("updated_at"),
        sa.CheckConstraint(
            "name IN (" + ", ".join(f"'{f}'" for f in FLAGS) + ")", name=op.f("ck_ai_flags_name")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ai_flags")),
    )
    op.create_table(
        "ai_budget_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("budget_micros", sa.BigInteger(), nullable=False),
        sa.Column(
            "budget_set_by_operator", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("reserved_micros", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("spent_micros", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        _at("soft_alert_at"),
        _at("warning_alert_at"),
        _at("hard_alert_at"),
        _now("updated_at"),
        sa.CheckConstraint("budget_micros >= 0", name=op.f("ck_ai_budget_months_budget_micros")),
        sa.CheckConstraint(
            "reserved_micros >= 0", name=op.f("ck_ai_budget_months_reserved_micros")
        ),
        sa.CheckConstraint("spent_micros >= 0", name=op.f("ck_ai_budget_months_spent_micros")),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_ai_budget_months")),
    )
    op.create_table(
        "ai_spend_ledger",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reserved_micros", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _now(),
        _at("settled_at"),
        sa.CheckConstraint(
            "outcome IN ('reserved', 'ok', 'error', 'refused')",
            name=op.f("ck_ai_spend_ledger_outcome"),
        ),
        sa.CheckConstraint("reserved_micros >= 0", name=op.f("ck_ai_spend_ledger_reserved_micros")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_spend_ledger")),
    )
    op.create_index(
        op.f("ix_ai_spend_ledger_month_feature"), "ai_spend_ledger", ["month", "feature"]
    )
    op.create_index(op.f("ix_ai_spend_ledger_created_at"), "ai_spend_ledger", ["created_at"])


def downgrade() -> None:
    op.drop_table("ai_spend_ledger")
    op.drop_table("ai_budget_months")
    op.drop_table("ai_flags")
