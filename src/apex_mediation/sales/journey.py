"""Journey stages: signup → activation (the first SDK request) → engagement (traffic on three
days of a week) → evaluation (the trial's second half, or a payment method saved) → converted
(the trial ended with a payment method) or lost (it ended without one). Stages only move
forward, except that a lost publisher who adds a payment method converts. Every change is kept
in the history with its reason."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import BillingAccount, CustomerJourney, JourneyTransition
from apex_mediation.sales.signals import Signals

ORDER = ("signup", "activation", "engagement", "evaluation", "converted", "lost")
EVALUATION_FROM_DAY = 8


def trial_day(account: BillingAccount, now: dt.datetime) -> int:
    return (now - account.trial_started_at).days


def target_stage(
    current: str, signals: Signals, account: BillingAccount, now: dt.datetime
) -> tuple[str, str] | None:
    """The stage the publisher should be in now and why, or None to stay."""
    ended = now >= account.trial_ends_at
    if ended and account.has_payment_method and current != "converted":
        return "converted", "the trial ended with a payment method saved"
    if current == "lost" and account.has_payment_method:
        return "converted", "a payment method was saved after the trial"
    if ended and not account.has_payment_method and current not in ("converted", "lost"):
        return "lost", "the trial ended without a payment method"
    if current in ("converted", "lost") or ended:
        return None
    rank = ORDER.index(current)
    evaluating = account.has_payment_method or trial_day(account, now) >= EVALUATION_FROM_DAY
    if evaluating and rank < ORDER.index("evaluation") and signals.first_sdk_request_at:
        return "evaluation", (
            "a payment method was saved"
            if account.has_payment_method
            else f"trial day {trial_day(account, now)}: evaluating"
        )
    if rank < ORDER.index("engagement") and signals.active_days_7d >= 3:
        return "engagement", f"traffic on {signals.active_days_7d} of the last 7 days"
    if rank < ORDER.index("activation") and signals.first_sdk_request_at is not None:
        return "activation", "the first SDK request arrived"
    return None


async def journey_of(
    session: AsyncSession, publisher_id: uuid.UUID, signed_up_at: dt.datetime
) -> CustomerJourney:
    found = await session.get(CustomerJourney, publisher_id, with_for_update=True)
    if found is None:
        now = signed_up_at
        found = CustomerJourney(publisher_id=publisher_id, stage="signup", stage_entered_at=now)
        session.add(found)
        session.add(
            JourneyTransition(
                publisher_id=publisher_id,
                from_stage=None,
                to_stage="signup",
                reason="signed up",
                occurred_at=now,
            )
        )
        await session.flush()
    return found


async def move(
    session: AsyncSession, journey: CustomerJourney, stage: str, reason: str, now: dt.datetime
) -> None:
    session.add(
        JourneyTransition(
            publisher_id=journey.publisher_id,
            from_stage=journey.stage,
            to_stage=stage,
            reason=reason,
            occurred_at=now,
        )
    )
    journey.stage = stage
    journey.stage_entered_at = now
    journey.updated_at = now


async def history(session: AsyncSession, publisher_id: uuid.UUID) -> list[JourneyTransition]:
    return list(
        await session.scalars(
            select(JourneyTransition)
            .where(JourneyTransition.publisher_id == publisher_id)
            .order_by(JourneyTransition.occurred_at, JourneyTransition.id)
        )
    )
