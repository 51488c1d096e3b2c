"""Growth gauges for the dashboards and the churn alert, read from PostgreSQL (so every process
reports the same figures): publishers per lifecycle stage, and the share of paying-stage
publishers that churned over the last 30 days."""

from __future__ import annotations

import datetime as dt

from prometheus_client import Gauge
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import LIFECYCLE_STAGES, LifecycleTransition, PublisherLifecycle

CHURN_WINDOW = dt.timedelta(days=30)
# Stages of a publisher past its trial who has not churned: the base churn is measured against.
RETAINED = ("onboarding", "active", "at_risk", "reactivated")

publishers_by_stage = Gauge(
    "publishers_by_lifecycle_stage", "Publishers in each lifecycle stage", ["stage"]
)
churn_ratio = Gauge(
    "publisher_churn_ratio",
    "Publishers who churned in the last 30 days over those retained now plus them",
)


async def churn(session: AsyncSession, now: dt.datetime) -> tuple[int, int]:
    """(churned in the window, the base: retained now plus those churned)."""
    churned = int(
        await session.scalar(
            select(func.count(distinct(LifecycleTransition.publisher_id))).where(
                LifecycleTransition.to_stage == "churned",
                LifecycleTransition.occurred_at > now - CHURN_WINDOW,
                LifecycleTransition.occurred_at <= now,
            )
        )
        or 0
    )
    retained = int(
        await session.scalar(select(func.count()).where(PublisherLifecycle.stage.in_(RETAINED)))
        or 0
    )
    return churned, retained + churned


async def refresh(session: AsyncSession, now: dt.datetime) -> None:
    rows = await session.execute(
        select(PublisherLifecycle.stage, func.count()).group_by(PublisherLifecycle.stage)
    )
    counts = {stage: n for stage, n in rows.all()}
    for stage in LIFECYCLE_STAGES:
        publishers_by_stage.labels(stage).set(counts.get(stage, 0))
    churned, base = await churn(session, now)
    churn_ratio.set(churned / base if base else 0.0)
