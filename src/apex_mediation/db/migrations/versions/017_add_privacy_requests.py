"""Privacy: data-export and erasure requests with their receipts, retention runs.

`privacy_requests` records every export, account erasure and end-user (device) erasure: who
asked, when, its status and the receipt written when it completed. An export's file is named
and hashed here; its link expires with `expires_at`.

The audit log stays append-only, with one sanctioned exception for the retention job: a DELETE
is let through when the transaction has set `apex.audit_retention_cutoff` (set_config(...,
true), so it ends with the transaction), the row is older than that cutoff, and the cutoff
itself lies at least 180 days back. UPDATE, TRUNCATE and any other DELETE are still refused.

Revision ID: 017_add_privacy_requests
Revises: 016_add_account_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "017_add_privacy_requests"
down_revision = "016_add_account_security"
branch_labels = None
depends_on = None

_RETENTION_TRIGGER = """
    CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        cutoff_text text;
        cutoff timestamptz;
    BEGIN
        IF TG_OP = 'DELETE' THEN
            cutoff_text := current_setting('apex.audit_retention_cutoff', true);
            IF cutoff_text IS NOT NULL AND cutoff_text <> '' THEN
                cutoff := cutoff_text::timestamptz;
                IF cutoff <= now() - interval '180 days' AND OLD.occurred_at < cutoff THEN
                    RETURN OLD;
                END IF;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
"""

_APPEND_ONLY_TRIGGER = """
    CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
"""


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("publisher_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "receipt",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_sha256", sa.Text(), nullable=True),
        sa.Column("file_bytes", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('export', 'account_erasure', 'device_erasure')",
            name=op.f("ck_privacy_requests_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'expired')",
            name=op.f("ck_privacy_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_privacy_requests_publisher_id_publishers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(
        op.f("ix_privacy_requests_publisher_id_requested_at"),
        "privacy_requests",
        ["publisher_id", "requested_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_privacy_requests_status_requested_at"),
        "privacy_requests",
        ["status", "requested_at"],
        unique=False,
    )
    op.execute(_RETENTION_TRIGGER)


def downgrade() -> None:
    op.execute(_APPEND_ONLY_TRIGGER)
    op.drop_index(op.f("ix_privacy_requests_status_requested_at"), table_name="privacy_requests")
    op.drop_index(
        op.f("ix_privacy_requests_publisher_id_requested_at"), table_name="privacy_requests"
    )
    op.drop_table("privacy_requests")
