"""Account hardening: login throttling and lockout, TOTP two-factor authentication with recovery codes, session rotation.

`login_throttles` counts consecutive failed logins per address (by its sha256, so unknown
addresses are throttled exactly like known ones) and holds the lock and how many locks came
before it, which doubles the next one. `user_two_factor` keeps a user's TOTP secret encrypted
(AES-GCM) and the last time step used, so a code works once; `recovery_codes` holds ten salted
hashes of single-use codes; `login_challenges` is the second step of a login, between the
password and the code. Session rotation needs no schema: it replaces `console_sessions` rows.

Revision ID: 016_add_account_security
Revises: 015_add_runtime_tuning
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "016_add_account_security"
down_revision = "015_add_runtime_tuning"
branch_labels = None
depends_on = None


def _user_id() -> sa.Column[object]:
    return sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def _created() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lockouts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_login_throttles")),
    )
    op.create_index(op.f("ix_login_throttles_updated_at"), "login_throttles", ["updated_at"])
    op.create_table(
        "user_two_factor",
        _user_id(),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        _created(),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_two_factor")),
        _user_fk("user_two_factor"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        _user_id(),
        sa.Column("code_hash", sa.Text(), nullable=False),
        _created(),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        _user_fk("recovery_codes"),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])
    op.create_table(
        "login_challenges",
        sa.Column("token_hash", sa.Text(), nullable=False),
        _user_id(),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_login_challenges")),
        _user_fk("login_challenges"),
    )
    op.create_index(op.f("ix_login_challenges_user_id"), "login_challenges", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_challenges_user_id"), table_name="login_challenges")
    op.drop_table("login_challenges")
    op.drop_index(op.f("ix_recovery_codes_user_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("user_two_factor")
    op.drop_index(op.f("ix_login_throttles_updated_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
