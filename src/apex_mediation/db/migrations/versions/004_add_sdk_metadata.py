"""SDK versions seen per app, signed config versions, config signing keys by key id.

Revision ID: 004_add_sdk_metadata
Revises: 003_add_revenue_tracking
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "004_add_sdk_metadata"
down_revision = "003_add_revenue_tracking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_signing_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.Text(), server_default="ed25519", nullable=False),
        sa.Column("public_key_der", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("algorithm = 'ed25519'", name=op.f("ck_config_signing_keys_algorithm")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_config_signing_keys")),
    )
    op.create_table(
        "sdk_versions_seen",
        sa.Column("app_id", sa.UUID(), nullable=False),
        sa.Column("sdk_platform", sa.Text(), nullable=False),
        sa.Column("sdk_version", sa.Text(), nullable=False),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("requests", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_sdk_versions_seen_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "sdk_platform", "sdk_version", name=op.f("pk_sdk_versions_seen")
        ),
    )
    op.create_table(
        "app_config_versions",
        sa.Column("app_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config_id", sa.Text(), nullable=False),
        sa.Column("payload_digest", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_app_config_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_app_config_versions_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["config_signing_keys.key_id"],
            name=op.f("fk_app_config_versions_key_id_config_signing_keys"),
        ),
        sa.PrimaryKeyConstraint("app_id", "version", name=op.f("pk_app_config_versions")),
    )


def downgrade() -> None:
    op.drop_table("app_config_versions")
    op.drop_table("sdk_versions_seen")
    op.drop_table("config_signing_keys")
