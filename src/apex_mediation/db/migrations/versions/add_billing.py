"""Billing: plans and trials, monthly invoices with a line per fee band, dunning cases and the
reconciliation of tracked against network-reported revenue.

Revision ID: add_billing
Revises: 008_add_notification_preferences
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "add_billing"
down_revision = "008_add_notification_preferences"
branch_labels = None
depends_on = None


def _now(name: str = "created_at") -> sa.Column[sa.DateTime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _at(name: str, nullable: bool = True) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _publisher_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["publisher_id"],
        ["publishers.id"],
        name=op.f(f"fk_{table}_publisher_id_publishers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("plan", sa.Text(), server_default="trial", nullable=False),
        sa.Column("status", sa.Text(), server_default="trialing", nullable=False),
        _at("trial_started_at", nullable=False),
        _at("trial_ends_at", nullable=False),
        sa.Column("enterprise_rate_ppm", sa.Integer(), nullable=True),
        sa.Column("billing_email", sa.Text(), nullable=True),
        sa.Column(
            "has_payment_method", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("stripe_subscription_status", sa.Text(), nullable=True),
        _at("stripe_event_at"),
        _now(),
        _now("updated_at"),
        sa.CheckConstraint("plan IN ('trial', 'tiered')", name=op.f("ck_billing_accounts_plan")),
        sa.CheckConstraint(
            "status IN ('trialing', 'active', 'past_due', 'restricted', 'canceled')",
            name=op.f("ck_billing_accounts_status"),
        ),
        sa.CheckConstraint(
            "enterprise_rate_ppm IS NULL OR enterprise_rate_ppm BETWEEN 0 AND 1000000",
            name=op.f("ck_billing_accounts_enterprise_rate_ppm"),
        ),
        sa.CheckConstraint(
            "trial_ends_at >= trial_started_at", name=op.f("ck_billing_accounts_trial_order")
        ),
        _publisher_fk("billing_accounts"),
        sa.PrimaryKeyConstraint("publisher_id", name=op.f("pk_billing_accounts")),
    )
    # Every publisher created before billing existed starts its trial now.
    op.execute(
        "INSERT INTO billing_accounts (publisher_id, trial_started_at, trial_ends_at) "
        "SELECT id, now(), now() + interval '14 days' FROM publishers"
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("currency", sa.Text(), server_default="USD", nullable=False),
        sa.Column("revenue_micros", sa.BigInteger(), nullable=False),
        sa.Column(
            "trial_revenue_micros", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("fee_micros", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "amount_paid_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("stripe_invoice_id", sa.Text(), nullable=True),
        sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
        _at("stripe_event_at"),
        _now(),
        _at("finalized_at"),
        _at("due_at"),
        _at("paid_at"),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'paid', 'void', 'uncollectible')",
            name=op.f("ck_invoices_status"),
        ),
        sa.CheckConstraint("period_end > period_start", name=op.f("ck_invoices_period_order")),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_invoices_total_cents")),
        _publisher_fk("invoices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint(
            "publisher_id", "period_start", name=op.f("uq_invoices_publisher_id_period_start")
        ),
        sa.UniqueConstraint("stripe_invoice_id", name=op.f("uq_invoices_stripe_invoice_id")),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("band", sa.Text(), nullable=False),
        sa.Column("lower_micros", sa.BigInteger(), nullable=False),
        sa.Column("upper_micros", sa.BigInteger(), nullable=True),
        sa.Column("rate_ppm", sa.Integer(), nullable=False),
        sa.Column("revenue_micros", sa.BigInteger(), nullable=False),
        sa.Column("fee_micros", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_invoice_lines_amount_cents")),
        sa.CheckConstraint(
            "rate_ppm BETWEEN 0 AND 1000000", name=op.f("ck_invoice_lines_rate_ppm")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", "position", name=op.f("pk_invoice_lines")),
    )
    op.create_table(
        "dunning_cases",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        _now("started_at"),
        sa.Column("step", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _at("next_action_at"),
        _at("grace_ends_at", nullable=False),
        _at("restricted_at"),
        _at("resolved_at"),
        sa.Column("outcome", sa.Text(), server_default="open", nullable=False),
        sa.CheckConstraint(
            "outcome IN ('open', 'recovered', 'written_off')",
            name=op.f("ck_dunning_cases_outcome"),
        ),
        _publisher_fk("dunning_cases"),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_dunning_cases_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_cases")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_dunning_cases_invoice_id")),
    )
    op.create_index(op.f("ix_dunning_cases_publisher_id"), "dunning_cases", ["publisher_id"])
    op.create_index(
        op.f("ix_dunning_cases_outcome_next_action_at"),
        "dunning_cases",
        ["outcome", "next_action_at"],
    )
    op.create_table(
        "revenue_reconciliations",
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("network", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tracked_micros", sa.BigInteger(), nullable=False),
        sa.Column("reported_micros", sa.BigInteger(), nullable=True),
        sa.Column("tracked_impressions", sa.BigInteger(), nullable=False),
        sa.Column("reported_impressions", sa.BigInteger(), nullable=True),
        _now("computed_at"),
        _publisher_fk("revenue_reconciliations"),
        sa.PrimaryKeyConstraint(
            "publisher_id", "network", "day", name=op.f("pk_revenue_reconciliations")
        ),
    )


def downgrade() -> None:
    op.drop_table("revenue_reconciliations")
    op.drop_table("dunning_cases")
    op.drop_table("invoice_lines")
    op.drop_table("invoices")
    op.drop_table("billing_accounts")
