"""Plans and trials: every publisher starts a trial at signup (APEX_TRIAL_DAYS, 14 by default)
and moves to the tiered plan when it ends. Revenue mediated on trial days is never charged.
The trial's state is what the console shows and the sales automation reads."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import BillingAccount


@dataclass(frozen=True)
class TrialState:
    active: bool
    ends_at: dt.datetime
    days_left: int  # whole days left, 0 on the last day and after


def start_trial(
    session: AsyncSession, publisher_id: uuid.UUID, email: str, now: dt.datetime, days: int
) -> BillingAccount:
    account = BillingAccount(
        publisher_id=publisher_id,
        plan="trial",
        status="trialing",
        trial_started_at=now,
        trial_ends_at=now + dt.timedelta(days=days),
        billing_email=email,
    )
    session.add(account)
    return account


async def get_account(session: AsyncSession, publisher_id: uuid.UUID) -> BillingAccount | None:
    account: BillingAccount | None = await session.scalar(
        select(BillingAccount)
        .where(BillingAccount.publisher_id == publisher_id)
        .execution_options(populate_existing=True)
    )
    return account


def trial_state(account: BillingAccount, now: dt.datetime) -> TrialState:
    left = account.trial_ends_at - now
    return TrialState(
        active=account.plan == "trial" and left > dt.timedelta(0),
        ends_at=account.trial_ends_at,
        days_left=max(0, left.days),
    )


def is_trial_day(account: BillingAccount, day: dt.date) -> bool:
    """A UTC day that began before the trial ended is a trial day (its revenue is free)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start < account.trial_ends_at


async def end_trials(session: AsyncSession, now: dt.datetime) -> int:
    """Move every ended trial to the tiered plan; returns how many moved (idempotent)."""
    ended = list(
        await session.scalars(
            update(BillingAccount)
            .where(BillingAccount.plan == "trial", BillingAccount.trial_ends_at <= now)
            .values(
                plan="tiered",
                # A publisher already past due stays so; only a clean trial becomes active.
                status=case(
                    (BillingAccount.status == "trialing", "active"), else_=BillingAccount.status
                ),
                updated_at=now,
            )
            .returning(BillingAccount.publisher_id)
        )
    )
    for publisher_id in ended:
        await audit.record(
            session,
            Actor.system(publisher_id),
            "billing.trial_ended",
            "publisher",
            publisher_id,
            publisher_id=publisher_id,
            after={"plan": "tiered"},
        )
    return len(ended)
