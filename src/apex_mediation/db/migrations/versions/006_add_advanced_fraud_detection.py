"""Invalid-traffic policy: rule weights, allow- and block-lists (platform-wide or per
publisher), data-centre ranges loaded from providers' files, per-publisher thresholds, and the
audit trail of decisions about them. Per-request verdicts are in ClickHouse (migration 0008).

Revision ID: 006_add_advanced_fraud_detection
Revises: add_console_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "006_add_advanced_fraud_detection"
down_revision = "add_console_accounts"
branch_labels = None
depends_on = None


def _created(name: str = "created_at") -> sa.Column[sa.DateTime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _publisher_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["publisher_id"],
        ["publishers.id"],
        name=op.f(f"fk_{table}_publisher_id_publishers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "ivt_rules",
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("weight_ppm", sa.BigInteger(), nullable=False),
        _created("updated_at"),
        sa.CheckConstraint(
            "weight_ppm BETWEEN 0 AND 1000000", name=op.f("ck_ivt_rules_weight_ppm")
        ),
        sa.PrimaryKeyConstraint("reason", name=op.f("pk_ivt_rules")),
    )
    op.create_table(
        "ivt_list_entries",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        _created(),
        sa.CheckConstraint(
            "kind IN ('ip', 'cidr', 'device', 'app')", name=op.f("ck_ivt_list_entries_kind")
        ),
        sa.CheckConstraint("action IN ('allow', 'block')", name=op.f("ck_ivt_list_entries_action")),
        _publisher_fk("ivt_list_entries"),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_ivt_list_entries_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivt_list_entries")),
    )
    op.create_index(op.f("ix_ivt_list_entries_publisher_id"), "ivt_list_entries", ["publisher_id"])
    op.create_table(
        "ivt_ip_ranges",
        sa.Column("cidr", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        _created("loaded_at"),
        sa.PrimaryKeyConstraint("cidr", name=op.f("pk_ivt_ip_ranges")),
    )
    op.create_index(op.f("ix_ivt_ip_ranges_source"), "ivt_ip_ranges", ["source"])
    op.create_table(
        "ivt_thresholds",
        sa.Column("publisher_id", sa.UUID(), nullable=False),
        sa.Column("block_ppm", sa.BigInteger(), nullable=False),
        sa.Column("flag_ppm", sa.BigInteger(), nullable=False),
        _created("updated_at"),
        sa.CheckConstraint(
            "block_ppm BETWEEN 0 AND 1000000", name=op.f("ck_ivt_thresholds_block_ppm")
        ),
        sa.CheckConstraint(
            "flag_ppm BETWEEN 0 AND 1000000", name=op.f("ck_ivt_thresholds_flag_ppm")
        ),
        _publisher_fk("ivt_thresholds"),
        sa.PrimaryKeyConstraint("publisher_id", name=op.f("pk_ivt_thresholds")),
    )
    op.create_table(
        "ivt_decisions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        _created(),
        _publisher_fk("ivt_decisions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivt_decisions")),
    )
    op.create_index(
        op.f("ix_ivt_decisions_publisher_id_created_at"),
        "ivt_decisions",
        ["publisher_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("ivt_decisions")
    op.drop_table("ivt_thresholds")
    op.drop_index(op.f("ix_ivt_ip_ranges_source"), table_name="ivt_ip_ranges")
    op.drop_table("ivt_ip_ranges")
    op.drop_table("ivt_list_entries")
    op.drop_table("ivt_rules")
