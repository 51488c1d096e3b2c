"""Stripe ids on publishers and the webhook events table (unique by Stripe event id).

Revision ID: 002_add_stripe_integration
Revises: 001_initial_schema
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "002_add_stripe_integration"
down_revision = "001_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_webhook_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("stripe_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_stripe_webhook_events")),
    )
    op.add_column("publishers", sa.Column("stripe_customer_id", sa.Text(), nullable=True))
    op.add_column("publishers", sa.Column("stripe_subscription_id", sa.Text(), nullable=True))
    op.create_unique_constraint(
        op.f("uq_publishers_stripe_customer_id"), "publishers", ["stripe_customer_id"]
    )


def downgrade() -> None:
    op.drop_table("stripe_webhook_events")
    op.drop_constraint(op.f("uq_publishers_stripe_customer_id"), "publishers", type_="unique")
    op.drop_column("publishers", "stripe_subscription_id")
    op.drop_column("publishers", "stripe_customer_id")
