"""The trial playbook: one email on trial days 0, 1, 3, 6, 8, 11 and 13, each built from real
data (the publisher's own traffic, floors and integration; peers' aggregates), at most one
touchpoint per publisher in any 24 hours, each kind once. Emails go through the outbox as
`product` email (the recipients' preference and unsubscribe link apply).

With ENABLE_SALES_AI_OPTIMIZATION, the model writes the opening paragraph from the same facts;
rules check it (length, plain text, no link but the platform's own) before it is used, and the
template's own opening is used whenever AI is off, refused, failing or out of bounds."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.ai.features import Feature
from apex_mediation.ai.gateway import AiError, AiGateway
from apex_mediation.billing.money import format_micros_as_dollars
from apex_mediation.db.models import BillingAccount, Publisher, SalesTouchpoint
from apex_mediation.notify import outbox
from apex_mediation.notify.templates import render
from apex_mediation.sales import insights
from apex_mediation.settings import Settings
from apex_mediation.stores.analytics import Analytics

STEPS: tuple[tuple[int, str], ...] = (
    (0, "welcome"),
    (1, "benchmark"),
    (3, "revenue_estimate"),
    (6, "feature_unlock"),
    (8, "case_study"),
    (11, "trial_ending"),
    (13, "trial_last_day"),
)
MIN_GAP = dt.timedelta(hours=24)
MAX_INTRO_CHARS = 600
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MARKUP = re.compile(r"[<>{}\[\]`]")


@dataclass(frozen=True)
class Due:
    kind: str
    trial_day: int


def due_step(trial_day: int, sent: set[str]) -> Due | None:
    """The latest step whose day has come and that was not sent; earlier unsent steps are
    superseded (a welcome on day 3 would read oddly next to day 3's email)."""
    reached = [(day, kind) for day, kind in STEPS if day <= trial_day]
    if not reached or reached[-1][1] in sent:
        return None
    return Due(reached[-1][1], trial_day)


def _money(micros: int | None) -> str:
    return "no data yet" if micros is None else format_micros_as_dollars(micros)


def _percent(ppm: int | None) -> str:
    return "no data yet" if ppm is None else f"{ppm // 10_000}.{ppm % 10_000 // 1_000} %"


async def facts(
    session: AsyncSession,
    analytics: Analytics,
    publisher_id: uuid.UUID,
    kind: str,
    account: BillingAccount,
    now: dt.datetime,
) -> dict[str, Any]:
    """The figures one email states, as display strings (and kept with the touchpoint)."""
    days_left = max(0, (account.trial_ends_at - now).days)
    common: dict[str, Any] = {
        "days_left": days_left,
        "trial_ends": f"{account.trial_ends_at:%-d %B}",
    }
    if kind == "benchmark":
        b = await insights.benchmark(session, analytics, publisher_id, now)
        return {
            **common,
            "category": b.category,
            "peers": b.peers,
            "own_ecpm": _money(b.own_ecpm_micros),
            "peer_ecpm": _money(b.peer_median_ecpm_micros),
            "own_fill": _percent(b.own_fill_ppm),
            "peer_fill": _percent(b.peer_median_fill_ppm),
        }
    if kind == "revenue_estimate":
        r = await insights.revenue_estimate(session, analytics, publisher_id, now)
        return {
            **common,
            "requests": f"{r.requests:,}",
            "unfilled": f"{r.unfilled:,}",
            "missed": format_micros_as_dollars(r.estimated_missed_micros),
            "without_floor": r.placements_without_floor,
            "high_floor": r.placements_with_high_floor,
        }
    if kind == "case_study":
        c = await insights.case_study(session, analytics, publisher_id, now)
        return {
            **common,
            "category": c.category,
            "peer_ecpm": _money(c.peer_ecpm_micros),
            "peer_networks": c.peer_networks if c.peer_networks is not None else "several",
            "own_networks": c.own_networks,
        }
    return common


def acceptable_intro(text: str, settings: Settings) -> bool:
    """The rules a model's paragraph must pass: plain text, bounded, no link but ours."""
    text = text.strip()
    if not 40 <= len(text) <= MAX_INTRO_CHARS or _MARKUP.search(text):
        return False
    base = settings.base_url.rstrip("/")
    return all(link.startswith(base) for link in _URL.findall(text))


async def personalised_intro(
    gateway: AiGateway | None,
    settings: Settings,
    publisher_name: str,
    kind: str,
    found: dict[str, Any],
    now: dt.datetime,
) -> str | None:
    if gateway is None or not await gateway.enabled(Feature.SALES):
        return None
    facts_text = "; ".join(f"{key}: {value}" for key, value in sorted(found.items()))
    try:
        answer = await gateway.complete(
            Feature.SALES,
            [
                {
                    "role": "system",
                    "content": "You write one short, friendly opening paragraph for an email to "
                    "a mobile app publisher on a free trial of an ad mediation platform. Plain "
                    "text, no links, no greeting line, no invented figures: use only the facts "
                    "given.",
                },
                {
                    "role": "user",
                    "content": f"Email: {kind}. Publisher: {publisher_name}. Facts: {facts_text}",
                },
            ],
            max_tokens=200,
            now=now,
        )
    except AiError:
        return None
    return answer.text.strip() if acceptable_intro(answer.text, settings) else None


async def send_due(
    session: AsyncSession,
    analytics: Analytics,
    settings: Settings,
    gateway: AiGateway | None,
    publisher: Publisher,
    account: BillingAccount,
    now: dt.datetime,
) -> SalesTouchpoint | None:
    """The playbook's next email for one trial publisher, if one is due and allowed now."""
    if account.plan != "trial" or now >= account.trial_ends_at:
        return None
    rows = (
        await session.execute(
            select(SalesTouchpoint.kind, SalesTouchpoint.sent_at).where(
                SalesTouchpoint.publisher_id == publisher.id
            )
        )
    ).all()
    if any(now - sent_at < MIN_GAP for _, sent_at in rows):
        return None
    day = (now - account.trial_started_at).days
    due = due_step(day, {kind for kind, _ in rows})
    if due is None:
        return None
    found = await facts(session, analytics, publisher.id, due.kind, account, now)
    intro = await personalised_intro(gateway, settings, publisher.name, due.kind, found, now)
    context = {
        **found,
        "publisher": publisher.name,
        "intro": intro or "",
        "console_url": settings.base_url.rstrip("/"),
    }
    queued = await outbox.notify_publisher(
        session,
        settings,
        publisher.id,
        template=f"sales/{due.kind}",
        context=context,
        category="product",
        dedupe_key=f"sales:{publisher.id}:{due.kind}",
    )
    touchpoint = SalesTouchpoint(
        publisher_id=publisher.id,
        kind=due.kind,
        trial_day=due.trial_day,
        subject=render(f"sales/{due.kind}", {**context, "recipient_name": ""}).subject,
        recipients=len(queued),
        personalised=intro is not None,
        facts={k: str(v) for k, v in found.items()},
        sent_at=now,
    )
    session.add(touchpoint)
    await session.flush()
    return touchpoint


async def touchpoints_before(
    session: AsyncSession, publisher_id: uuid.UUID, moment: dt.datetime
) -> list[SalesTouchpoint]:
    return list(
        await session.scalars(
            select(SalesTouchpoint)
            .where(SalesTouchpoint.publisher_id == publisher_id, SalesTouchpoint.sent_at <= moment)
            .order_by(SalesTouchpoint.sent_at)
        )
    )
