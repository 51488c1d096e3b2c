"""Notification categories (billing, product, marketing, alerts) and the durable outbox.

`product_updates` becomes `product` and `marketing` joins the preferences; every message goes
through `notification_outbox`, where the dispatcher retries it and a message that keeps failing
ends in the dead letter (status 'dead').

Revision ID: 008_add_notification_preferences
Revises: 006_add_advanced_fraud_detection
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "008_add_notification_preferences"
down_revision = "006_add_advanced_fraud_detection"
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column[sa.DateTime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.alter_column("notification_preferences", "product_updates", new_column_name="product")
    op.add_column(
        "notification_preferences",
        sa.Column("marketing", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("transactional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("publisher_id", sa.UUID(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("8"), nullable=False),
        _now("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _now("created_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('email', 'slack')", name=op.f("ck_notification_outbox_channel")
        ),
        sa.CheckConstraint(
            "category IN ('billing', 'product', 'marketing', 'alerts', 'account')",
            name=op.f("ck_notification_outbox_category"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'suppressed', 'dead')",
            name=op.f("ck_notification_outbox_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notification_outbox_attempts")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_outbox_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_notification_outbox_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_outbox_dedupe_key")),
    )
    op.create_index(
        op.f("ix_notification_outbox_status_next_attempt_at"),
        "notification_outbox",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_notification_outbox_publisher_id"), "notification_outbox", ["publisher_id"]
    )


def downgrade() -> None:
    op.drop_table("notification_outbox")
    op.drop_column("notification_preferences", "marketing")
    op.alter_column("notification_preferences", "product", new_column_name="product_updates")
