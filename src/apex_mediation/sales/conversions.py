"""Conversions: a trial that became a customer, with its MRR — the platform fee a month at the
pace of its last 14 days (a 30-day month, bands applied, no trial exemption), in cents — and
its credit shared equally among the touchpoints sent before it (linear attribution; weights in
parts per million adding up to one million)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.billing import invoicing, plans
from apex_mediation.billing.money import micros_to_cents
from apex_mediation.billing.usage import tracked_days
from apex_mediation.db.models import ConversionAttribution, SalesConversion
from apex_mediation.sales.playbook import touchpoints_before
from apex_mediation.settings import Settings
from apex_mediation.stores.analytics import Analytics

PPM = 1_000_000
PACE_WINDOW = dt.timedelta(days=14)


def linear_weights(n: int) -> list[int]:
    if n == 0:
        return []
    share, rest = divmod(PPM, n)
    return [share + (1 if i < rest else 0) for i in range(n)]


async def monthly_fee_cents(
    session: AsyncSession,
    analytics: Analytics,
    settings: Settings,
    publisher_id: uuid.UUID,
    now: dt.datetime,
) -> int:
    start = (now - PACE_WINDOW).date()
    days = await tracked_days(analytics, publisher_id, start, now.date())
    monthly = sum(d.revenue_micros for d in days.values()) * 30 // PACE_WINDOW.days
    account = await plans.get_account(session, publisher_id)
    fee = invoicing.schedule_for(settings, account).fee_micros(monthly)
    return micros_to_cents(fee)


async def record(
    session: AsyncSession,
    analytics: Analytics,
    settings: Settings,
    publisher_id: uuid.UUID,
    now: dt.datetime,
) -> SalesConversion | None:
    """Record the conversion once (None if it already exists)."""
    if await session.scalar(
        select(SalesConversion.id).where(SalesConversion.publisher_id == publisher_id)
    ):
        return None
    conversion = SalesConversion(
        id=uuid.uuid4(),
        publisher_id=publisher_id,
        converted_at=now,
        mrr_cents=await monthly_fee_cents(session, analytics, settings, publisher_id, now),
    )
    session.add(conversion)
    await session.flush()
    before = await touchpoints_before(session, publisher_id, now)
    for touchpoint, weight in zip(before, linear_weights(len(before)), strict=True):
        session.add(
            ConversionAttribution(
                conversion_id=conversion.id, touchpoint_id=touchpoint.id, weight_ppm=weight
            )
        )
    await session.flush()
    return conversion
