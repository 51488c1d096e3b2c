"""A publisher's health, 0 to 100: four components of 25 points each, every one from real data
and kept beside the score so that it can be explained.

* traffic trend: impressions in the last 7 days against the 7 before (steady or growing: 25);
* integration breadth: placements (3 for full marks) and distinct networks (3);
* console engagement: members' console logins in 30 days (8 for full marks);
* payment health: the billing standing (in good standing or trialing: 25, past due: 10,
  restricted or canceled: 0; no payment method after the trial: 15).

Churn risk: low from 70, medium from 40, high below.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import (
    BillingAccount,
    ConsoleSession,
    HealthScore,
    Membership,
    NetworkAccount,
    Placement,
)
from apex_mediation.stores.analytics import Analytics
from apex_mediation.tracking.event_names import IMPRESSION

WEEK = dt.timedelta(days=7)
_WEEKS = f"""\
SELECT
    sumIf(events, hour >= {{mid:DateTime('UTC')}}) AS this_week,
    sumIf(events, hour < {{mid:DateTime('UTC')}}) AS last_week
FROM events_totals_hourly
WHERE publisher_id = {{publisher_id:UUID}} AND test = 0 AND ivt = 0 AND event = '{IMPRESSION}'
      AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}"""  # noqa: S608 - only the event name constant


@dataclass(frozen=True)
class Health:
    score: int
    traffic_trend: int
    integration: int
    engagement: int
    payment: int
    churn_risk: str
    impressions_this_week: int
    impressions_last_week: int
    placements: int
    networks: int
    logins_30d: int
    billing_status: str | None


def _capped(value: int, full_at: int, points: int) -> int:
    return min(value, full_at) * points // full_at


def trend_points(this_week: int, last_week: int) -> int:
    if this_week == 0:
        return 0
    if last_week == 0 or this_week >= last_week:  # new traffic, or steady or growing
        return 25
    ratio_ppm = this_week * 1_000_000 // last_week
    if ratio_ppm >= 750_000:
        return 18
    if ratio_ppm >= 500_000:
        return 10
    return 3


def payment_points(account: BillingAccount | None, now: dt.datetime) -> int:
    if account is None:
        return 0
    if account.status in ("restricted", "canceled"):
        return 0
    if account.status == "past_due":
        return 10
    if account.plan == "tiered" and not account.has_payment_method:
        return 15
    return 25


def risk_band(score: int) -> str:
    return "low" if score >= 70 else "medium" if score >= 40 else "high"


async def assess(
    session: AsyncSession, analytics: Analytics, publisher_id: uuid.UUID, now: dt.datetime
) -> Health:
    [weeks] = await analytics.query(
        _WEEKS,
        {"publisher_id": publisher_id, "start": now - 2 * WEEK, "mid": now - WEEK, "end": now},
    )
    this_week, last_week = int(weeks["this_week"] or 0), int(weeks["last_week"] or 0)
    placements = int(
        await session.scalar(
            select(func.count())
            .select_from(Placement)
            .where(Placement.publisher_id == publisher_id)
        )
        or 0
    )
    networks = int(
        await session.scalar(
            select(func.count(func.distinct(NetworkAccount.network))).where(
                NetworkAccount.publisher_id == publisher_id
            )
        )
        or 0
    )
    logins = int(
        await session.scalar(
            select(func.count())
            .select_from(ConsoleSession)
            .join(Membership, Membership.user_id == ConsoleSession.user_id)
            .where(
                Membership.publisher_id == publisher_id,
                ConsoleSession.created_at >= now - dt.timedelta(days=30),
                ConsoleSession.created_at < now,
            )
        )
        or 0
    )
    account = await session.get(BillingAccount, publisher_id)
    trend = trend_points(this_week, last_week)
    integration = _capped(placements, 3, 12) + _capped(networks, 3, 13)
    engagement = _capped(logins, 8, 25)
    payment = payment_points(account, now)
    score = trend + integration + engagement + payment
    return Health(
        score, trend, integration, engagement, payment, risk_band(score),
        this_week, last_week, placements, networks, logins,
        account.status if account else None,
    )  # fmt: skip


async def record(
    session: AsyncSession, publisher_id: uuid.UUID, day: dt.date, health: Health, now: dt.datetime
) -> None:
    values = {
        "score": health.score,
        "traffic_trend": health.traffic_trend,
        "integration": health.integration,
        "engagement": health.engagement,
        "payment": health.payment,
        "churn_risk": health.churn_risk,
        "facts": {
            "impressions_this_week": health.impressions_this_week,
            "impressions_last_week": health.impressions_last_week,
            "placements": health.placements,
            "networks": health.networks,
            "logins_30d": health.logins_30d,
            "billing_status": health.billing_status,
        },
        "computed_at": now,
    }
    await session.execute(
        insert(HealthScore)
        .values(publisher_id=publisher_id, day=day, **values)
        .on_conflict_do_update(
            index_elements=[HealthScore.publisher_id, HealthScore.day], set_=values
        )
    )
