"""The daily growth run: for every publisher, assess health (stored per day), move the
lifecycle stage, and intervene — a check-in email to an at-risk publisher and, when it pays and
its churn risk is high, a discount through Stripe (`gateway`; none without Stripe configured),
opportunities for the operator — each within its cooldown. One transaction per publisher;
`dry_run` writes nothing."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter

from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.db.models import BillingAccount
from apex_mediation.growth import health, interventions, lifecycle
from apex_mediation.jobs.each_publisher import for_each_publisher
from apex_mediation.services import Services

log = logging.getLogger(__name__)


async def run_day(
    services: Services,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    publisher_ids: list[uuid.UUID] | None = None,
    gateway: StripeGateway | None = None,
) -> dict[str, int]:
    async def step(publisher_id: uuid.UUID, counts: Counter[str]) -> None:
        await _one(services, gateway, publisher_id, now, dry_run, counts)

    return await for_each_publisher(services, "growth", step, publisher_ids)


async def _one(
    services: Services,
    gateway: StripeGateway | None,
    publisher_id: uuid.UUID,
    now: dt.datetime,
    dry_run: bool,
    counts: Counter[str],
) -> None:
    async with services.postgres.session() as session:
        account = await session.get(BillingAccount, publisher_id)
        if account is None or now < account.trial_started_at:
            return
        assessed = await health.assess(session, services.analytics, publisher_id, now)
        counts[f"risk_{assessed.churn_risk}"] += 1
        current = await lifecycle.current_of(session, publisher_id)
        wanted = lifecycle.target(current, assessed, account, now)
        if wanted is not None:
            counts[f"to_{wanted[0]}"] += 1
        if dry_run:
            await session.rollback()
            return
        await health.record(session, publisher_id, now.date(), assessed, now)
        if wanted is not None:
            current = await lifecycle.move(session, publisher_id, current, *wanted, now)
        if current is not None and current.stage == "at_risk":
            counts["check_ins"] += bool(
                await interventions.check_in(
                    session, services.settings, publisher_id, assessed, now
                )
            )
            counts["discounts"] += bool(
                await interventions.discount_offer(
                    session, services.settings, gateway, publisher_id, assessed, now
                )
            )
        if current is not None and current.stage in ("onboarding", "active", "reactivated"):
            found = await interventions.opportunities(
                session, services.analytics, services.settings, publisher_id, assessed, now
            )
            counts["opportunities"] += len(found)
        await session.commit()
