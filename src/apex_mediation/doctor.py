"""`apex doctor`: the pre-deployment checklist, run against the configured installation.

Settings and secrets, the stores answering, both schemas migrated, the config signing keys and
their file modes, billing, mail, AI flags against their key and budget, query statistics and the
background work. Each finding is ok, warn (works, but not as production should) or fail (fix
before serving); what a development install may skip (Stripe, SMTP, Redis) is ok there."""

from __future__ import annotations

import asyncio
import datetime as dt
import stat
from dataclasses import dataclass
from typing import Literal

from apex_mediation import schema
from apex_mediation.ai import budget, flags
from apex_mediation.observability.health import readiness
from apex_mediation.sdk.config_signing import SigningKeyMissing, load_keyring
from apex_mediation.services import Services
from apex_mediation.settings import Settings
from apex_mediation.stores import query_stats

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    area: str
    status: Status
    detail: str


def _ok_or(production: bool, bad: Status) -> Status:
    return bad if production else "ok"


def settings_findings(settings: Settings) -> list[Finding]:
    """What the settings alone tell (no store is touched)."""
    prod = settings.is_production
    found = [Finding("environment", "ok", f"{settings.env.value}")]
    url = settings.public_url
    if prod and not (url and url.startswith("https://")):
        found.append(Finding("public url", "fail", "APEX_PUBLIC_URL must be the https:// address"))
    else:
        found.append(Finding("public url", "ok", settings.base_url))
    found.append(
        Finding(
            "database",
            "ok" if settings.database_url else _ok_or(prod, "warn"),
            "DATABASE_URL set" if settings.database_url
            else "embedded PostgreSQL in the data directory (single-node installs only)",
        )
    )  # fmt: skip
    found.append(
        Finding(
            "redis",
            "ok" if settings.redis_url else _ok_or(prod, "warn"),
            "REDIS_URL set: rate limits and replay protection shared by every process"
            if settings.redis_url
            else "no REDIS_URL: rate limits and replay protection are per process",
        )
    )
    stripe = settings.stripe_secret_key is not None
    webhook = settings.stripe_webhook_secret is not None
    if stripe and not webhook:
        found.append(
            Finding("billing", "fail", "APEX_STRIPE_WEBHOOK_SECRET is missing: payments never land")
        )
    else:
        found.append(
            Finding(
                "billing",
                "ok" if stripe else _ok_or(prod, "warn"),
                "Stripe configured" if stripe
                else "no APEX_STRIPE_SECRET_KEY: invoices are documents only, nothing is charged",
            )
        )  # fmt: skip
    found.append(
        Finding(
            "mail",
            "ok" if settings.smtp_url else _ok_or(prod, "warn"),
            "SMTP configured" if settings.smtp_url
            else "no APEX_SMTP_URL: e-mails are written to the log, not sent",
        )
    )  # fmt: skip
    found.append(
        Finding(
            "background work",
            "ok",
            "run by this process (APEX_BACKGROUND_JOBS)" if settings.background_jobs
            else "APEX_BACKGROUND_JOBS is off: run `apex worker` beside the API",
        )
    )  # fmt: skip
    return found


def _keys(settings: Settings) -> list[Finding]:
    try:
        ring = load_keyring(settings.keys_dir)
    except SigningKeyMissing as exc:
        return [Finding("signing keys", "fail", f"{exc} (`apex keys create`)")]
    found = [Finding("signing keys", "ok", f"active key {ring.active.key_id}")]
    loose = [
        p.name
        for p in [settings.keys_dir, *settings.keys_dir.glob("*.pem")]
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    if loose:
        found.append(
            Finding("key files", "fail", f"readable by others: {', '.join(loose)} (chmod go-rwx)")
        )
    else:
        found.append(Finding("key files", "ok", "private keys readable by their owner only"))
    return found


async def store_findings(services: Services) -> list[Finding]:
    settings = services.settings
    found = [
        Finding(f"store {c.name}", "ok" if c.ok else "fail", c.detail)
        for c in await readiness(services)
    ]
    try:
        pending = await schema.pending(services)
    except Exception as exc:  # a store that does not answer is reported above too
        found.append(Finding("migrations", "fail", f"unreadable: {exc}"[:300]))
    else:
        waiting = [*pending.postgres, *pending.clickhouse]
        found.append(
            Finding("migrations", "ok", "both schemas up to date")
            if pending.empty
            else Finding("migrations", "fail", f"pending (`apex migrate`): {', '.join(waiting)}")
        )
    found += await asyncio.to_thread(_keys, settings)
    async with services.postgres.session() as session:
        effective = await flags.effective(session, settings)
        standing = await budget.standing(session, settings, dt.datetime.now(dt.UTC))
        await session.commit()
    on = sorted(name for name, enabled in effective.items() if enabled)
    if on and settings.openai_api_key is None:
        found.append(Finding("ai", "fail", f"{', '.join(on)} on but OPENAI_API_KEY is not set"))
    elif on and standing.budget_micros <= 0:
        found.append(Finding("ai", "fail", f"{', '.join(on)} on with no monthly budget"))
    else:
        spent = f"${standing.spent_micros / 1e6:,.2f} of ${standing.budget_micros / 1e6:,.2f}"
        state = "off" if not on else f"on: {', '.join(on)}"
        at_limit = on and standing.spent_micros >= standing.hard_micros
        found.append(
            Finding(
                "ai",
                "warn" if at_limit else "ok",
                f"{state}; this month {spent}" + (" (hard limit reached)" if at_limit else ""),
            )
        )
    stats = await query_stats.detect(services.postgres, create=False)
    found.append(Finding("query statistics", "ok" if stats.usable else "warn", stats.summary))
    return found
