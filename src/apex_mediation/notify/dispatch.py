"""The outbox's dispatcher: sends due messages and records what happened to each.

It claims one due row at a time with `FOR UPDATE SKIP LOCKED` and keeps the lock while it sends,
so any number of dispatchers can run side by side without sending a message twice. Delivery is
at-least-once: a crash between the send and the commit sends that message again. A failed send
is retried with exponential backoff and jitter; after the row's `max_attempts` it goes to the
dead letter (status 'dead'). Preferences are checked again here: an unsubscribe between queueing
and sending suppresses the message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from dataclasses import dataclass
from typing import Literal

import httpx
from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import notifications
from apex_mediation.background import Periodic
from apex_mediation.db.models import NotificationOutbox
from apex_mediation.notify import mail, slack, unsubscribe
from apex_mediation.services import Services
from apex_mediation.settings import Settings
from apex_mediation.stores.postgres import Postgres

__all__ = [
    "DispatchCounts",
    "backoff",
    "dispatch_due",
    "dispatcher_loop",
    "pending_count",
    "preference_for",
]

BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
MAX_ERROR_CHARS = 500

sent_total = Counter("notifications_sent_total", "Notifications delivered", ["channel", "category"])
failed_total = Counter("notifications_failed_total", "Failed notification attempts", ["channel"])
dead_total = Counter(
    "notifications_dead_total", "Notifications moved to the dead letter", ["channel"]
)
outbox_pending = Gauge("outbox_pending", "Notifications waiting in the outbox")


@dataclass(frozen=True)
class DispatchCounts:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    suppressed: int = 0


def preference_for(category: str) -> notifications.Kind | None:
    """The preference that governs a category; None for 'account' (always sent)."""
    for kind in notifications.KINDS:
        if kind == category:
            return kind
    return None


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """The wait after the `attempts`-th failure: 30 s doubling to at most an hour, with ±20 %
    jitter so that messages failing together do not all retry together."""
    base = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)
    jitter = (rng or random).uniform(0.8, 1.2)
    return dt.timedelta(seconds=min(base * jitter, BACKOFF_CAP_S))


Outcome = Literal["sent", "retried", "dead", "suppressed"]


class _Suppressed(Exception):
    """The message must not be sent (preference off, channel not configured)."""


def _secrets(settings: Settings) -> list[str]:
    values = [s.get_secret_value() for s in (settings.smtp_url, settings.slack_webhook_url) if s]
    if settings.smtp_url is not None:
        with contextlib.suppress(ValueError):  # a malformed URL has already said so
            values.append(mail.parse_smtp_url(values[0]).password or "")
    return [value for value in values if value]


def _scrub(settings: Settings, error: str) -> str:
    """last_error is shown to the operator: no URL with credentials, no password, no webhook."""
    for secret in _secrets(settings):
        error = error.replace(secret, "****")
    return error[:MAX_ERROR_CHARS]


async def _send_email(session: AsyncSession, settings: Settings, row: NotificationOutbox) -> str:
    headers: dict[str, str] = {}
    kind = preference_for(row.category)
    if not row.transactional and row.user_id is not None and kind is not None:
        if not await notifications.wants(session, row.user_id, kind):
            raise _Suppressed(f"the recipient turned {kind} emails off")
        headers = unsubscribe.headers(unsubscribe.url(settings, row.user_id, kind))
    email = mail.Email(row.recipient, row.subject, row.body_text, row.body_html, headers)
    if await mail.send(settings, email):
        return ""
    return "APEX_SMTP_URL is not set: written to the log, not sent"


async def _send_slack(settings: Settings, http: httpx.AsyncClient, row: NotificationOutbox) -> str:
    url = slack.webhook_for(settings, row.recipient)
    if url is None:
        raise _Suppressed(f"{slack.TARGETS[row.recipient]} is not set")
    await slack.post(http, url, slack.message_text(row.subject, row.body_text))
    return ""


async def _deliver(
    session: AsyncSession,
    settings: Settings,
    http: httpx.AsyncClient,
    row: NotificationOutbox,
    at: dt.datetime,
) -> Outcome:
    try:
        if row.channel == "slack":
            note = await _send_slack(settings, http, row)
        else:
            note = await _send_email(session, settings, row)
    except _Suppressed as exc:
        row.status, row.last_error = "suppressed", str(exc)
        return "suppressed"
    except Exception as exc:  # any failure of this message is retried, then dead-lettered
        row.attempts += 1
        row.last_error = _scrub(settings, f"{type(exc).__name__}: {exc}")
        failed_total.labels(row.channel).inc()
        if row.attempts >= row.max_attempts:
            row.status, row.dead_at = "dead", at
            dead_total.labels(row.channel).inc()
            return "dead"
        row.next_attempt_at = at + backoff(row.attempts)
        return "retried"
    row.status, row.sent_at, row.last_error = "sent", at, note or None
    sent_total.labels(row.channel, row.category).inc()
    return "sent"


async def _claim(session: AsyncSession, at: dt.datetime) -> NotificationOutbox | None:
    row: NotificationOutbox | None = await session.scalar(
        select(NotificationOutbox)
        .where(NotificationOutbox.status == "pending", NotificationOutbox.next_attempt_at <= at)
        .order_by(NotificationOutbox.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return row


async def dispatch_due(
    postgres: Postgres, settings: Settings, *, now: dt.datetime | None = None, limit: int = 50
) -> DispatchCounts:
    """Send up to `limit` due messages, each in its own transaction holding its row's lock."""
    at = now or dt.datetime.now(dt.UTC)
    outcomes: dict[Outcome, int] = {"sent": 0, "retried": 0, "dead": 0, "suppressed": 0}
    async with httpx.AsyncClient() as http:
        for _ in range(limit):
            async with postgres.session() as session:
                row = await _claim(session, at)
                if row is None:
                    break
                outcomes[await _deliver(session, settings, http, row, at)] += 1
                await session.commit()
    async with postgres.session() as session:
        outbox_pending.set(await pending_count(session))
    return DispatchCounts(**outcomes)


async def pending_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).where(NotificationOutbox.status == "pending"))
    return int(count or 0)


def dispatcher_loop(services: Services) -> Periodic:
    async def step() -> DispatchCounts:
        return await dispatch_due(services.postgres, services.settings)

    return Periodic("notification outbox", services.settings.outbox_interval_s, step)
