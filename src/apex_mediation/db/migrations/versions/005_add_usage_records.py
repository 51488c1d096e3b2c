"""Usage per publisher per period, with created_at.

Revision ID: 005_add_usage_records
Revises: 004_add_sdk_metadata
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "005_add_usage_records"
down_revision = "004_add_sdk_metadata"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "mediated_revenue_micros", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("impressions", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("requests", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("api_calls", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_usage_records_period_order")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_usage_records_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint(
            "publisher_id",
            "period_start",
            "period_end",
            name=op.f("uq_usage_records_publisher_id_period_start_period_end"),
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_records")
