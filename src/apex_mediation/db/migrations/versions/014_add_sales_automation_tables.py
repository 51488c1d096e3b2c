"""Sales automation: the trial playbook's touchpoints (each kind once per publisher),
conversions with their MRR, and each conversion's attribution to the touchpoints before it.
Product email (trial onboarding tips) becomes opt-out rather than opt-in.

Revision ID: 014_add_sales_automation_tables
Revises: 009_add_customer_journey_stages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "014_add_sales_automation_tables"
down_revision = "009_add_customer_journey_stages"
branch_labels = None
depends_on = None

KINDS = (
    "'welcome', 'benchmark', 'revenue_estimate', 'feature_unlock', 'case_study', "
    "'trial_ending', 'trial_last_day'"
)


def upgrade() -> None:
    op.alter_column("notification_preferences", "product", server_default=sa.text("true"))
    op.create_table(
        "sales_touchpoints",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("trial_day", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("personalised", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "facts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_sales_touchpoints_kind")),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_sales_touchpoints_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_touchpoints")),
        sa.UniqueConstraint(
            "publisher_id", "kind", name=op.f("uq_sales_touchpoints_publisher_id_kind")
        ),
    )
    op.create_index(
        op.f("ix_sales_touchpoints_publisher_id_sent_at"),
        "sales_touchpoints",
        ["publisher_id", "sent_at"],
    )
    op.create_table(
        "sales_conversions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mrr_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("mrr_cents >= 0", name=op.f("ck_sales_conversions_mrr_cents")),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_sales_conversions_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_conversions")),
        sa.UniqueConstraint("publisher_id", name=op.f("uq_sales_conversions_publisher_id")),
    )
    op.create_table(
        "sales_conversion_attributions",
        sa.Column("conversion_id", sa.UUID(), nullable=False),
        sa.Column("touchpoint_id", sa.UUID(), nullable=False),
        sa.Column("weight_ppm", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "weight_ppm BETWEEN 0 AND 1000000",
            name=op.f("ck_sales_conversion_attributions_weight_ppm"),
        ),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["sales_conversions.id"],
            name=op.f("fk_sales_conversion_attributions_conversion_id_sales_conversions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["sales_touchpoints.id"],
            name=op.f("fk_sales_conversion_attributions_touchpoint_id_sales_touchpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "conversion_id", "touchpoint_id", name=op.f("pk_sales_conversion_attributions")
        ),
    )


def downgrade() -> None:
    op.drop_table("sales_conversion_attributions")
    op.drop_table("sales_conversions")
    op.drop_table("sales_touchpoints")
    op.alter_column("notification_preferences", "product", server_default=sa.text("false"))
