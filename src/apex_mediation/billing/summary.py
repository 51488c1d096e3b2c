"""What the billing page and API show: the plan and trial, the month so far with its fee, the
projected fee for the whole month, the payment standing and any open dunning case."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.billing import dunning, invoicing, plans
from apex_mediation.billing.usage import DayUsage, tracked_days
from apex_mediation.db.models import BillingAccount, DunningCase, Invoice
from apex_mediation.settings import Settings
from apex_mediation.stores.analytics import Analytics


@dataclass(frozen=True)
class Summary:
    account: BillingAccount
    trial: plans.TrialState
    month_start: dt.date
    month_end: dt.date
    days_elapsed: int
    impressions: int
    requests: int
    to_date: invoicing.FeeBreakdown
    projected: invoicing.FeeBreakdown
    dunning: DunningCase | None


async def summarise(
    session: AsyncSession,
    analytics: Analytics,
    settings: Settings,
    publisher_id: uuid.UUID,
    now: dt.datetime,
) -> Summary:
    account = await plans.get_account(session, publisher_id)
    if account is None:  # created before billing existed and not migrated: start it now
        account = plans.start_trial(session, publisher_id, "", now, settings.trial_days)
        await session.flush()
    start, end = invoicing.month_of(now.date())
    days = list((await tracked_days(analytics, publisher_id, start, end)).values())
    schedule = invoicing.schedule_for(settings, account)
    to_date = invoicing.breakdown(days, account, schedule, start, end)
    elapsed = (now.date() - start).days + 1
    projected = invoicing.breakdown(
        _projected_days(days, start, end, elapsed), account, schedule, start, end
    )
    return Summary(
        account=account,
        trial=plans.trial_state(account, now),
        month_start=start,
        month_end=end,
        days_elapsed=elapsed,
        impressions=sum(d.impressions for d in days),
        requests=sum(d.requests for d in days),
        to_date=to_date,
        projected=projected,
        dunning=await dunning.open_case_of(session, publisher_id),
    )


def _projected_days(
    days: list[DayUsage], start: dt.date, end: dt.date, elapsed: int
) -> list[DayUsage]:
    """The month so far, then every remaining day at the average so far (a linear forecast;
    trial days among them stay free when the breakdown is computed)."""
    average = sum(d.revenue_micros for d in days) // max(elapsed, 1)
    projected = list(days)
    day = start + dt.timedelta(days=elapsed)
    while day < end:
        projected.append(DayUsage(day, revenue_micros=average))
        day += dt.timedelta(days=1)
    return projected


async def invoices_of(session: AsyncSession, publisher_id: uuid.UUID) -> list[Invoice]:
    return list(
        await session.scalars(
            select(Invoice)
            .where(Invoice.publisher_id == publisher_id)
            .order_by(Invoice.period_start.desc())
        )
    )
