"""Lifecycle stages after signup: trial → onboarding (the first 30 days on the paid plan) →
active; at_risk when health is poor or traffic falls; churned when traffic has stopped for two
weeks or the account is canceled; reactivated when a churned publisher's traffic returns (for a
week, then active). Every change is kept with its reason."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import BillingAccount, LifecycleTransition, PublisherLifecycle
from apex_mediation.growth.health import Health

ONBOARDING = dt.timedelta(days=30)
REACTIVATED_FOR = dt.timedelta(days=7)


def target(
    current: PublisherLifecycle | None, health: Health, account: BillingAccount, now: dt.datetime
) -> tuple[str, str] | None:
    stage = current.stage if current else None
    if account.plan == "trial" and now < account.trial_ends_at:
        wanted: tuple[str, str] = ("trial", "on the free trial")
    elif account.status == "canceled":
        wanted = ("churned", "the account was canceled")
    elif health.impressions_this_week == 0 and health.impressions_last_week == 0:
        wanted = ("churned", "no traffic for two weeks")
    elif stage == "churned":
        wanted = ("reactivated", "traffic returned")
    elif stage == "reactivated" and current and now - current.entered_at < REACTIVATED_FOR:
        return None
    elif health.churn_risk == "high" or health.traffic_trend <= 10:
        wanted = (
            "at_risk",
            f"health {health.score}/100 ({health.churn_risk} churn risk), "
            f"traffic {health.impressions_this_week:,} this week vs "
            f"{health.impressions_last_week:,} the week before",
        )
    elif now - account.trial_ends_at < ONBOARDING:
        wanted = ("onboarding", "the first 30 days on the paid plan")
    else:
        wanted = ("active", f"health {health.score}/100")
    return None if wanted[0] == stage else wanted


async def current_of(session: AsyncSession, publisher_id: uuid.UUID) -> PublisherLifecycle | None:
    return await session.get(PublisherLifecycle, publisher_id, with_for_update=True)


async def move(
    session: AsyncSession,
    publisher_id: uuid.UUID,
    current: PublisherLifecycle | None,
    stage: str,
    reason: str,
    now: dt.datetime,
) -> PublisherLifecycle:
    session.add(
        LifecycleTransition(
            publisher_id=publisher_id,
            from_stage=current.stage if current else None,
            to_stage=stage,
            reason=reason,
            occurred_at=now,
        )
    )
    if current is None:
        current = PublisherLifecycle(publisher_id=publisher_id, stage=stage, entered_at=now)
        session.add(current)
    else:
        current.stage, current.entered_at, current.updated_at = stage, now, now
    await session.flush()
    return current


async def history(session: AsyncSession, publisher_id: uuid.UUID) -> list[LifecycleTransition]:
    return list(
        await session.scalars(
            select(LifecycleTransition)
            .where(LifecycleTransition.publisher_id == publisher_id)
            .order_by(LifecycleTransition.occurred_at)
        )
    )
