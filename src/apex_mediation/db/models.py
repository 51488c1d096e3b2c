"""SQLAlchemy models: the PostgreSQL schema as the code sees it.

The Alembic revisions in db/migrations are written by hand; tests/db/test_migrations.py fails if
these models and the migrated schema ever differ.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("owner", "admin", "member", "read_only")
PLATFORMS = ("android", "ios", "unity", "web", "ctv")
AD_FORMATS = ("banner", "interstitial", "rewarded", "native", "app_open")
AUCTION_TYPES = ("first_price", "second_price")
LINE_KINDS = ("bidding", "waterfall")
API_KEY_SCOPES = ("sdk", "reporting", "management")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


# -- 001_initial_schema -------------------------------------------------------------------------


class Publisher(Base):
    __tablename__ = "publishers"
    __table_args__ = (CheckConstraint(_in("status", ("active", "suspended")), name="status"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()
    # 002_add_stripe_integration
    stripe_customer_id: Mapped[str | None] = mapped_column(Text, unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    display_name: Mapped[str | None] = mapped_column(Text)
    is_platform_operator: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    created_at: Mapped[dt.datetime] = _created()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "publisher_id"),
        CheckConstraint(_in("role", ROLES), name="role"),
        Index(None, "publisher_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    __table_args__ = (Index(None, "user_id"), Index(None, "expires_at"))

    # sha256 of the cookie value: a database leak does not yield usable sessions.
    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    csrf_token: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ip_prefix: Mapped[str | None] = mapped_column(Text)


class App(Base):
    __tablename__ = "apps"
    __table_args__ = (
        CheckConstraint(_in("platform", PLATFORMS), name="platform"),
        CheckConstraint(_in("status", ("active", "disabled")), name="status"),
        Index(None, "publisher_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    bundle_id: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    allowed_origins: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    test_mode: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class NetworkAccount(Base):
    __tablename__ = "network_accounts"
    __table_args__ = (
        UniqueConstraint("publisher_id", "network", "name"),
        CheckConstraint("bid_adjustment_ppm > 0", name="bid_adjustment_positive"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    network: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # AES-GCM: key id byte + nonce + ciphertext, bound to this row's id (see accounts/crypto.py).
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    credential_keys: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    # Multiplier applied to this account's bids, in millionths (1_000_000 = unchanged).
    bid_adjustment_ppm: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("1000000")
    )
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Placement(Base):
    __tablename__ = "placements"
    __table_args__ = (
        CheckConstraint(_in("format", AD_FORMATS), name="format"),
        CheckConstraint(_in("auction_type", AUCTION_TYPES), name="auction_type"),
        CheckConstraint("floor_cpm_micros >= 0", name="floor_non_negative"),
        CheckConstraint("timeout_ms BETWEEN 1 AND 30000", name="timeout_range"),
        Index(None, "publisher_id", "format"),
        Index(None, "app_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    app_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    format: Mapped[str] = mapped_column(Text, nullable=False)
    floor_cpm_micros: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0")
    )
    # ISO 3166-1 alpha-2 country code -> floor CPM in micros.
    country_floors: Mapped[dict[str, int]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    timeout_ms: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("800"))
    auction_type: Mapped[str] = mapped_column(Text, nullable=False, server_default="first_price")
    refresh_interval_s: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    # add_placement_pacing: frequency caps per device and the minimum gap between impressions.
    fcap_per_hour: Mapped[int | None] = mapped_column(Integer)
    fcap_per_day: Mapped[int | None] = mapped_column(Integer)
    min_interval_s: Mapped[int | None] = mapped_column(Integer)
    # Bumped on every change so that config snapshots and signed configs can tell versions apart.
    config_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class PlacementLine(Base):
    """One network taking part in a placement: a server-side bidder or a waterfall instance."""

    __tablename__ = "placement_lines"
    __table_args__ = (
        CheckConstraint(_in("kind", LINE_KINDS), name="kind"),
        CheckConstraint("ecpm_micros IS NULL OR ecpm_micros >= 0", name="ecpm_non_negative"),
        Index(None, "placement_id", "kind", "priority"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    placement_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("placements.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    network: Mapped[str] = mapped_column(Text, nullable=False)
    network_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("network_accounts.id", ondelete="SET NULL")
    )
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    # Waterfall instances carry the publisher's eCPM estimate; bidders price themselves.
    ecpm_micros: Mapped[int | None] = mapped_column(BigInteger)
    params: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "scopes <@ ARRAY['sdk', 'reporting', 'management']::text[]", name="scopes_known"
        ),
        CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
        # An SDK key belongs to exactly one app and carries no other scope.
        CheckConstraint(
            "(NOT ('sdk' = ANY(scopes))) OR (app_id IS NOT NULL AND cardinality(scopes) = 1)",
            name="sdk_key_one_app",
        ),
        Index(None, "publisher_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    app_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("apps.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    # sha256 of the key: keys are 256-bit random, so a fast hash is safe and keeps lookups cheap.
    key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = _created()
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- 002_add_stripe_integration -----------------------------------------------------------------


class StripeWebhookEvent(Base):
    __tablename__ = "stripe_webhook_events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    stripe_created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[dt.datetime] = _created()
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


# -- 003_add_revenue_tracking -------------------------------------------------------------------


class NetworkRevenue(Base):
    """Revenue as the network itself reports it, per day, for reconciliation with tracking."""

    __tablename__ = "network_revenue"
    __table_args__ = (
        UniqueConstraint(
            "publisher_id", "network", "day", "app_id", postgresql_nulls_not_distinct=True
        ),
        CheckConstraint(_in("source", ("csv", "api")), name="source"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    network_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("network_accounts.id", ondelete="SET NULL")
    )
    network: Mapped[str] = mapped_column(Text, nullable=False)
    app_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("apps.id", ondelete="CASCADE")
    )
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    revenue_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default="USD")
    impressions: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    imported_at: Mapped[dt.datetime] = _created()


# -- 004_add_sdk_metadata -----------------------------------------------------------------------


class SdkVersionSeen(Base):
    __tablename__ = "sdk_versions_seen"
    __table_args__ = (PrimaryKeyConstraint("app_id", "sdk_platform", "sdk_version"),)

    app_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("apps.id", ondelete="CASCADE")
    )
    sdk_platform: Mapped[str] = mapped_column(Text)
    sdk_version: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[dt.datetime] = _created()
    last_seen_at: Mapped[dt.datetime] = _created()
    requests: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))


class AppConfigVersion(Base):
    """Every signed SDK config served for an app, by version: a client's version is explainable."""

    __tablename__ = "app_config_versions"
    __table_args__ = (
        PrimaryKeyConstraint("app_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    app_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("apps.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    config_id: Mapped[str] = mapped_column(Text, nullable=False)
    payload_digest: Mapped[str] = mapped_column(Text, nullable=False)
    key_id: Mapped[str] = mapped_column(
        Text, ForeignKey("config_signing_keys.key_id"), nullable=False
    )
    created_at: Mapped[dt.datetime] = _created()


class ConfigSigningKey(Base):
    """Public halves of the config signing keys; the private keys stay in files on the server."""

    __tablename__ = "config_signing_keys"
    __table_args__ = (CheckConstraint("algorithm = 'ed25519'", name="algorithm"),)

    key_id: Mapped[str] = mapped_column(Text, primary_key=True)
    algorithm: Mapped[str] = mapped_column(Text, nullable=False, server_default="ed25519")
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = _created()
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # After retirement, clients may still verify configs signed with it until this time.
    verify_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- 005_add_usage_records ----------------------------------------------------------------------


class UsageRecord(Base):
    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("publisher_id", "period_start", "period_end"),
        CheckConstraint("period_end >= period_start", name="period_order"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    period_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    period_end: Mapped[dt.date] = mapped_column(Date, nullable=False)
    mediated_revenue_micros: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0")
    )
    impressions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    requests: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    api_calls: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


# -- 011_add_audit_logs -------------------------------------------------------------------------


class AuditLog(Base):
    """Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        CheckConstraint(_in("actor_type", ("user", "api_key", "system")), name="actor_type"),
        Index(None, "publisher_id", "occurred_at"),
        Index(None, "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    actor_type: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[str | None] = mapped_column(Text)
    publisher_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(Text, nullable=False)
    object_type: Mapped[str] = mapped_column(Text, nullable=False)
    object_id: Mapped[str | None] = mapped_column(Text)
    ip_prefix: Mapped[str | None] = mapped_column(Text)
    before_digest: Mapped[str | None] = mapped_column(Text)
    after_digest: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )


# -- add_console_accounts -----------------------------------------------------------------------


class PasswordResetToken(Base):
    """One emailed password-reset link: single use, short-lived, stored as a sha256 hash."""

    __tablename__ = "password_reset_tokens"
    __table_args__ = (Index(None, "user_id"),)

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(Base):
    """An emailed invitation to join a publisher with a role: single use, expiring, revocable."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("email = lower(email)", name="email_lower"),
        Index(None, "publisher_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationPreference(Base):
    """Which emails a user wants; a user without a row gets the column defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    weekly_report: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    alerts: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    billing: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    # 008_add_notification_preferences: renamed from product_updates; marketing added.
    # 014: on by default (trial onboarding tips are product email; one link turns them off).
    product: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    marketing: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    updated_at: Mapped[dt.datetime] = _created()


# -- 006_add_advanced_fraud_detection ------------------------------------------------------------

IVT_LIST_KINDS = ("ip", "cidr", "device", "app")
IVT_LIST_ACTIONS = ("allow", "block")


class IvtRule(Base):
    """A detection rule's weight (its contribution to the score) and whether it is on; a reason
    without a row uses the shipped default (ivt/reasons.py)."""

    __tablename__ = "ivt_rules"
    __table_args__ = (CheckConstraint("weight_ppm BETWEEN 0 AND 1000000", name="weight_ppm"),)

    reason: Mapped[str] = mapped_column(Text, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    weight_ppm: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[dt.datetime] = _created()


class IvtListEntry(Base):
    """An allow- or block-list entry by IP, CIDR, device key or app; platform-wide (operator)
    when publisher_id is null, else one publisher's own."""

    __tablename__ = "ivt_list_entries"
    __table_args__ = (
        CheckConstraint(_in("kind", IVT_LIST_KINDS), name="kind"),
        CheckConstraint(_in("action", IVT_LIST_ACTIONS), name="action"),
        Index(None, "publisher_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = _created()


class IvtIpRange(Base):
    """A data-centre or cloud range loaded by `apex ivt load-ranges` (source: the provider file)."""

    __tablename__ = "ivt_ip_ranges"
    __table_args__ = (Index(None, "source"),)

    cidr: Mapped[str] = mapped_column(Text, primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    loaded_at: Mapped[dt.datetime] = _created()


class IvtThreshold(Base):
    """A publisher's thresholds, in millionths of the score; no row: the safe defaults."""

    __tablename__ = "ivt_thresholds"
    __table_args__ = (
        CheckConstraint("block_ppm BETWEEN 0 AND 1000000", name="block_ppm"),
        CheckConstraint("flag_ppm BETWEEN 0 AND 1000000", name="flag_ppm"),
    )

    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), primary_key=True
    )
    block_ppm: Mapped[int] = mapped_column(BigInteger, nullable=False)
    flag_ppm: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[dt.datetime] = _created()


class IvtDecision(Base):
    """The audit trail of decisions about IVT policy: list entries added or removed, thresholds
    and rules changed, ranges loaded, a model promoted. Per-request verdicts go to ClickHouse."""

    __tablename__ = "ivt_decisions"
    __table_args__ = (Index(None, "publisher_id", "created_at"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE")
    )
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    created_at: Mapped[dt.datetime] = _created()


# -- 008_add_notification_preferences -----------------------------------------------------------

NOTIFY_CHANNELS = ("email", "slack")
NOTIFY_CATEGORIES = ("billing", "product", "marketing", "alerts", "account")
OUTBOX_STATUSES = ("pending", "sent", "suppressed", "dead")


class NotificationOutbox(Base):
    """A message to send, rendered when queued and kept until delivered: the dispatcher retries
    with backoff and moves a message that keeps failing to the dead letter (status 'dead'),
    where the operator can see and requeue it. `dedupe_key` makes queueing idempotent."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint(_in("channel", NOTIFY_CHANNELS), name="channel"),
        CheckConstraint(_in("category", NOTIFY_CATEGORIES), name="category"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "publisher_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    # Transactional messages (password resets, payment failures) ignore preferences and carry
    # no unsubscribe link; the others check the recipient's preference when sent.
    transactional: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    template: Mapped[str] = mapped_column(Text, nullable=False)
    # An email address, or a Slack target name resolved from settings at send time (webhook
    # URLs are secrets and never stored here).
    recipient: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    publisher_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE")
    )
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    body_html: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("8"))
    next_attempt_at: Mapped[dt.datetime] = _created()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- add_billing ----------------------------------------------------------------------------------

BILLING_PLANS = ("trial", "tiered")
BILLING_STATUSES = ("trialing", "active", "past_due", "restricted", "canceled")
INVOICE_STATUSES = ("draft", "open", "paid", "void", "uncollectible")


class BillingAccount(Base):
    """A publisher's plan and payment standing: what billing, dunning and the console read."""

    __tablename__ = "billing_accounts"
    __table_args__ = (
        CheckConstraint(_in("plan", BILLING_PLANS), name="plan"),
        CheckConstraint(_in("status", BILLING_STATUSES), name="status"),
        CheckConstraint(
            "enterprise_rate_ppm IS NULL OR enterprise_rate_ppm BETWEEN 0 AND 1000000",
            name="enterprise_rate_ppm",
        ),
        CheckConstraint("trial_ends_at >= trial_started_at", name="trial_order"),
    )

    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str] = mapped_column(Text, nullable=False, server_default="trial")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="trialing")
    trial_started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    trial_ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # A contracted rate for revenue above the Enterprise threshold; null: the configured default.
    enterprise_rate_ppm: Mapped[int | None] = mapped_column(Integer)
    billing_email: Mapped[str | None] = mapped_column(Text)
    has_payment_method: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    stripe_subscription_status: Mapped[str | None] = mapped_column(Text)
    # The newest Stripe event applied to this account: older ones arriving late are ignored.
    stripe_event_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Invoice(Base):
    """One month's platform fee; the lines (one per fee band) add up to `total_cents`."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("publisher_id", "period_start"),
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status"),
        CheckConstraint("period_end > period_start", name="period_order"),
        CheckConstraint("total_cents >= 0", name="total_cents"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    period_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    period_end: Mapped[dt.date] = mapped_column(Date, nullable=False)  # exclusive
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="draft")
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default="USD")
    revenue_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    trial_revenue_micros: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0")
    )
    fee_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_paid_cents: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0")
    )
    stripe_invoice_id: Mapped[str | None] = mapped_column(Text, unique=True)
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    stripe_event_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created()
    finalized_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        PrimaryKeyConstraint("invoice_id", "position"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        CheckConstraint("rate_ppm BETWEEN 0 AND 1000000", name="rate_ppm"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(Text, nullable=False)
    lower_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    upper_micros: Mapped[int | None] = mapped_column(BigInteger)
    rate_ppm: Mapped[int] = mapped_column(Integer, nullable=False)
    revenue_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fee_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)


DUNNING_OUTCOMES = ("open", "recovered", "written_off")


class DunningCase(Base):
    """A failed payment's recovery: retries and reminders on a schedule, then a grace period,
    then restricted console access until the invoice is paid."""

    __tablename__ = "dunning_cases"
    __table_args__ = (
        CheckConstraint(_in("outcome", DUNNING_OUTCOMES), name="outcome"),
        Index(None, "publisher_id"),
        Index(None, "outcome", "next_action_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("invoices.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    )
    started_at: Mapped[dt.datetime] = _created()
    step: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    next_action_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    grace_ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    restricted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")


class RevenueReconciliation(Base):
    """Tracked revenue beside what a network reported, per publisher, network and day."""

    __tablename__ = "revenue_reconciliations"
    __table_args__ = (PrimaryKeyConstraint("publisher_id", "network", "day"),)

    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE")
    )
    network: Mapped[str] = mapped_column(Text)
    day: Mapped[dt.date] = mapped_column(Date)
    tracked_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reported_micros: Mapped[int | None] = mapped_column(BigInteger)
    tracked_impressions: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reported_impressions: Mapped[int | None] = mapped_column(BigInteger)
    computed_at: Mapped[dt.datetime] = _created()


# -- add_ai_cost_controls -------------------------------------------------------------------------

AI_FLAGS = (
    "ENABLE_AI_AUTOMATION",
    "ENABLE_SALES_AI_OPTIMIZATION",
    "ENABLE_GROWTH_AI_ANALYTICS",
    "ENABLE_SELF_EVOLVING_AI",
)
AI_OUTCOMES = ("reserved", "ok", "error", "refused")


class AiFlag(Base):
    """A flag set by an operator at run time; without a row the environment's default holds."""

    __tablename__ = "ai_flags"
    __table_args__ = (CheckConstraint(_in("name", AI_FLAGS), name="name"),)

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = _created()


class AiBudgetMonth(Base):
    """One calendar month's AI budget and what is spent and reserved against it. Reservations
    are taken with a conditional UPDATE of this row, so concurrent calls serialise on it and
    spent + reserved never passes the hard limit."""

    __tablename__ = "ai_budget_months"
    __table_args__ = (
        CheckConstraint("budget_micros >= 0", name="budget_micros"),
        CheckConstraint("reserved_micros >= 0", name="reserved_micros"),
        CheckConstraint("spent_micros >= 0", name="spent_micros"),
    )

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    budget_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Set by an operator (carried into the following months) rather than from the settings.
    budget_set_by_operator: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    reserved_micros: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0")
    )
    spent_micros: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    # When each threshold's alert went out (once per month).
    soft_alert_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    warning_alert_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    hard_alert_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = _created()


class AiSpendEntry(Base):
    """The ledger: one row per call asked for, refused or made, with its tokens and cost."""

    __tablename__ = "ai_spend_ledger"
    __table_args__ = (
        CheckConstraint(_in("outcome", AI_OUTCOMES), name="outcome"),
        CheckConstraint("reserved_micros >= 0", name="reserved_micros"),
        Index(None, "month", "feature"),
        Index(None, "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    month: Mapped[dt.date] = mapped_column(Date, nullable=False)
    feature: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    reserved_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- add_job_runs ---------------------------------------------------------------------------------

JOB_OUTCOMES = ("running", "ok", "failed", "skipped")


class JobRun(Base):
    """One run of a scheduled job (by the worker or `apex jobs run`): when, what it did, how it
    ended. A job's period (its day or hour) succeeds at most once: the partial unique index."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(_in("outcome", JOB_OUTCOMES), name="outcome"),
        Index(None, "job", "started_at"),
        Index(
            "uq_job_runs_job_period_done",
            "job",
            "period_key",
            unique=True,
            postgresql_where=text("outcome = 'ok' AND NOT dry_run"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    job: Mapped[str] = mapped_column(Text, nullable=False)
    period_key: Mapped[str] = mapped_column(Text, nullable=False)
    trigger: Mapped[str] = mapped_column(Text, nullable=False)  # "schedule" | "cli" | …
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    outcome: Mapped[str] = mapped_column(Text, nullable=False, server_default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- 009_add_customer_journey_stages ----------------------------------------------------------

JOURNEY_STAGES = ("signup", "activation", "engagement", "evaluation", "converted", "lost")


class CustomerJourney(Base):
    """Where a publisher is on the way from signup to customer, with the scores behind it."""

    __tablename__ = "customer_journeys"
    __table_args__ = (
        CheckConstraint(_in("stage", JOURNEY_STAGES), name="stage"),
        CheckConstraint("engagement_score BETWEEN 0 AND 100", name="engagement_score"),
        CheckConstraint(
            "conversion_probability_ppm BETWEEN 0 AND 1000000", name="conversion_probability_ppm"
        ),
    )

    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(Text, nullable=False, server_default="signup")
    stage_entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    engagement_score: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    conversion_probability_ppm: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0")
    )
    scored_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = _created()


class JourneyTransition(Base):
    """Every stage change, kept: the journey's history."""

    __tablename__ = "customer_journey_history"
    __table_args__ = (
        CheckConstraint(_in("to_stage", JOURNEY_STAGES), name="to_stage"),
        Index(None, "publisher_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# -- 014_add_sales_automation_tables ------------------------------------------------------------

TOUCHPOINT_KINDS = (
    "welcome",
    "benchmark",
    "revenue_estimate",
    "feature_unlock",
    "case_study",
    "trial_ending",
    "trial_last_day",
)


class SalesTouchpoint(Base):
    """One playbook email to a publisher (each kind at most once)."""

    __tablename__ = "sales_touchpoints"
    __table_args__ = (
        UniqueConstraint("publisher_id", "kind"),
        CheckConstraint(_in("kind", TOUCHPOINT_KINDS), name="kind"),
        Index(None, "publisher_id", "sent_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    trial_day: Mapped[int] = mapped_column(Integer, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    recipients: Mapped[int] = mapped_column(Integer, nullable=False)
    personalised: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    facts: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SalesConversion(Base):
    """A trial that became a paying customer, with its monthly revenue to the platform."""

    __tablename__ = "sales_conversions"
    __table_args__ = (CheckConstraint("mrr_cents >= 0", name="mrr_cents"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("publishers.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    )
    converted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    mrr_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class ConversionAttribution(Base):
    """A conversion's credit shared among the touchpoints sent before it (weights add to 1M)."""

    __tablename__ = "sales_conversion_attributions"
    __table_args__ = (
        PrimaryKeyConstraint("conversion_id", "touchpoint_id"),
        CheckConstraint("weight_ppm BETWEEN 0 AND 1000000", name="weight_ppm"),
    )

    conversion_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sales_conversions.id", ondelete="CASCADE")
    )
    touchpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sales_touchpoints.id", ondelete="CASCADE")
    )
    weight_ppm: Mapped[int] = mapped_column(Integer, nullable=False)


# -- 007_add_lifecycle_stages ---------------------------------------------------------------------

LIFECYCLE_STAGES = ("trial", "onboarding", "active", "at_risk", "churned", "reactivated")


class PublisherLifecycle(Base):
    """A publisher's lifecycle stage as a customer (after the sales journey, or beside it)."""

    __tablename__ = "publisher_lifecycles"
    __table_args__ = (CheckConstraint(_in("stage", LIFECYCLE_STAGES), name="stage"),)

    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(Text, nullable=False)
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[dt.datetime] = _created()


class LifecycleTransition(Base):
    """Every lifecycle stage change, kept."""

    __tablename__ = "lifecycle_transitions"
    __table_args__ = (
        CheckConstraint(_in("to_stage", LIFECYCLE_STAGES), name="to_stage"),
        Index(None, "publisher_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# -- 010_add_health_scores -------------------------------------------------------------------------

CHURN_RISKS = ("low", "medium", "high")
INTERVENTION_KINDS = (
    "check_in_email",
    "discount_offer",
    "upgrade_opportunity",
    "expansion_opportunity",
)


class HealthScore(Base):
    """A publisher's health on a day: 0-100 from four components of 25 points each."""

    __tablename__ = "health_scores"
    __table_args__ = (
        PrimaryKeyConstraint("publisher_id", "day"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score"),
        CheckConstraint(_in("churn_risk", CHURN_RISKS), name="churn_risk"),
    )

    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE")
    )
    day: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    traffic_trend: Mapped[int] = mapped_column(Integer, nullable=False)
    integration: Mapped[int] = mapped_column(Integer, nullable=False)
    engagement: Mapped[int] = mapped_column(Integer, nullable=False)
    payment: Mapped[int] = mapped_column(Integer, nullable=False)
    churn_risk: Mapped[str] = mapped_column(Text, nullable=False)
    facts: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class GrowthNarrative(Base):
    """The weekly growth narrative for the operator (ENABLE_GROWTH_AI_ANALYTICS), with the
    figures it was written from."""

    __tablename__ = "growth_narratives"

    week_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class GrowthIntervention(Base):
    """Something the growth engine did or suggested for a publisher: an email, an offer, an
    opportunity for the operator. Each kind has a cooldown per publisher."""

    __tablename__ = "growth_interventions"
    __table_args__ = (
        CheckConstraint(_in("kind", INTERVENTION_KINDS), name="kind"),
        Index(None, "publisher_id", "kind", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# -- 013_add_optimization_records ----------------------------------------------------------------

OPTIMIZATION_ACTIONS = ("create_index", "tune_setting")
OPTIMIZATION_STATUSES = (
    "proposed",
    "approved",
    "rejected",
    "applied",
    "verified",
    "rolled_back",
    "failed",
)


class OptimizationRecord(Base):
    """A change the self-evolving system proposes, with its evidence and expected effect; it is
    applied only when allow-listed and approved, then measured and kept or rolled back."""

    __tablename__ = "optimization_records"
    __table_args__ = (
        CheckConstraint(_in("action", OPTIMIZATION_ACTIONS), name="action"),
        CheckConstraint(_in("status", OPTIMIZATION_STATUSES), name="status"),
        CheckConstraint(
            "(action = 'tune_setting' AND change IS NOT NULL) OR (action <> 'tune_setting' "
            "AND apply_sql IS NOT NULL AND rollback_sql IS NOT NULL)",
            name="change_or_sql",
        ),
        Index(None, "status", "proposed_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    action: Mapped[str] = mapped_column(Text, nullable=False)
    # What the change is about, e.g. "public.orders(customer_ref)"; one open record per target.
    target: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    # create_index: the DDL, built from checked identifiers. tune_setting: `change` instead
    # ({"key", "from", "to"}), a value within the knob's bounds.
    apply_sql: Mapped[str | None] = mapped_column(Text)
    rollback_sql: Mapped[str | None] = mapped_column(Text)
    change: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    expected_effect: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="proposed")
    proposed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    outcome: Mapped[str | None] = mapped_column(Text)
    # With ENABLE_SELF_EVOLVING_AI: the model's explanation and rank (1 = first to consider);
    # advice for the operator only, never executed.
    ai_explanation: Mapped[str | None] = mapped_column(Text)
    ai_rank: Mapped[int | None] = mapped_column(Integer)


# -- 012_add_system_metrics ----------------------------------------------------------------------

INCIDENT_SEVERITIES = ("warning", "critical")


class SystemSnapshot(Base):
    """The system as it measured itself over the hour before `taken_at`: per route, per bidder,
    the database, slow statements, ingest and queue lag. `raw` keeps the cumulative counters the
    next snapshot subtracts from."""

    __tablename__ = "system_snapshots"

    id: Mapped[uuid.UUID] = _uuid_pk()
    taken_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, unique=True
    )
    routes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    bidders: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    database: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    slow_statements: Mapped[int | None] = mapped_column(Integer)
    ingest_lag_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    queue_lag_s: Mapped[int] = mapped_column(BigInteger, nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # 015: the creative cache over the hour: lookups and the share that found it expired.
    caches: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )


# -- 015_add_runtime_tuning ----------------------------------------------------------------------


class RuntimeSetting(Base):
    """An allow-listed knob's value (tuning/knobs.py holds the list and the bounds), or the
    operator's permission for bounded tuning to apply without a decision."""

    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_by: Mapped[str] = mapped_column(Text, nullable=False)


class Incident(Base):
    """A threshold crossed: open while it holds (one open incident per kind and key), resolved
    when a later snapshot is back within bounds."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("severity", INCIDENT_SEVERITIES), name="severity"),
        Index(
            "uq_incidents_kind_key_open",
            "kind",
            "key",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index(None, "opened_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    key: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str] = mapped_column(Text, nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- 016_add_account_security ---------------------------------------------------------------------


class LoginThrottle(Base):
    """Consecutive failed logins for one address, keyed by its sha256 so that unknown addresses
    are throttled exactly like known ones; `lockouts` doubles the next lock."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index(None, "updated_at"),)

    key_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    lockouts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class UserTwoFactor(Base):
    """A user's TOTP secret (AES-GCM, bound to the user); enabled once a code confirmed it."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = _created()
    enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The time step of the last accepted code: a code is accepted once, never replayed.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """A single-use recovery code, stored as a salted sha256 ("salt$hash")."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    code_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = _created()
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginChallenge(Base):
    """A login between its password and its second factor: short-lived, few attempts."""

    __tablename__ = "login_challenges"
    __table_args__ = (Index(None, "user_id"),)

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))


# -- 017_add_privacy_requests ---------------------------------------------------------------------

PRIVACY_REQUEST_KINDS = ("export", "account_erasure", "device_erasure")
PRIVACY_REQUEST_STATUSES = ("pending", "running", "completed", "failed", "expired")


class PrivacyRequest(Base):
    """A data export, account erasure or end-user erasure: who asked, when, its status and the
    receipt written on completion. A device erasure's subject is the device key (a hash),
    never the advertising or install id itself. An export's file expires at `expires_at`."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", PRIVACY_REQUEST_KINDS), name="kind"),
        CheckConstraint(_in("status", PRIVACY_REQUEST_STATUSES), name="status"),
        Index(None, "publisher_id", "requested_at"),
        Index(None, "status", "requested_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    publisher_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("publishers.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    requested_by: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = _created()
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    receipt: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'")
    )
    error: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(Text)
    file_bytes: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
