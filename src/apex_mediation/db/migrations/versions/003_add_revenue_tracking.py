"""Revenue as each network reports it, per publisher, app and day.

Revision ID: 003_add_revenue_tracking
Revises: 002_add_stripe_integration
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "003_add_revenue_tracking"
down_revision = "002_add_stripe_integration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_revenue",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("network_account_id", sa.UUID(), nullable=True),
        sa.Column("network", sa.Text(), nullable=False),
        sa.Column("app_id", sa.UUID(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("revenue_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), server_default="USD", nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_network_revenue_currency_iso")),
        sa.CheckConstraint("source IN ('csv', 'api')", name=op.f("ck_network_revenue_source")),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_network_revenue_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["network_account_id"],
            ["network_accounts.id"],
            name=op.f("fk_network_revenue_network_account_id_network_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_network_revenue_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_revenue")),
        sa.UniqueConstraint(
            "publisher_id",
            "network",
            "day",
            "app_id",
            name=op.f("uq_network_revenue_publisher_id_network_day_app_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("network_revenue")
