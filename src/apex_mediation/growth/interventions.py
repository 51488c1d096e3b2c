"""Interventions: what the growth engine does about a publisher's health, each kind at most
once per cooldown. An at-risk publisher's owners get a check-in email with the facts behind it,
and a paying one at high churn risk a discount through Stripe as well; the operator gets
opportunities — an upgrade when a publisher's monthly pace is within a fifth
of the next fee band, an expansion when a healthy publisher runs a single app."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.billing import invoicing
from apex_mediation.billing.money import format_micros_as_dollars
from apex_mediation.billing.stripe_gateway import StripeGateway, StripeGatewayError
from apex_mediation.billing.usage import tracked_days
from apex_mediation.db.models import App, BillingAccount, GrowthIntervention, Publisher
from apex_mediation.growth.health import Health
from apex_mediation.notify import outbox
from apex_mediation.settings import Settings
from apex_mediation.stores.analytics import Analytics

COOLDOWNS = {
    "check_in_email": dt.timedelta(days=14),
    "discount_offer": dt.timedelta(days=90),
    "upgrade_opportunity": dt.timedelta(days=30),
    "expansion_opportunity": dt.timedelta(days=30),
}
NEAR_BAND_PPM = 800_000  # within a fifth of the next band
# The discount offer's terms. Settings have no field for them yet; constants until the operator
# needs to tune them per deployment.
DISCOUNT_PERCENT = 20
DISCOUNT_MONTHS = 2

log = logging.getLogger(__name__)


async def cooling(
    session: AsyncSession, publisher_id: uuid.UUID, kind: str, now: dt.datetime
) -> bool:
    last = await session.scalar(
        select(func.max(GrowthIntervention.created_at)).where(
            GrowthIntervention.publisher_id == publisher_id, GrowthIntervention.kind == kind
        )
    )
    return last is not None and now - last < COOLDOWNS[kind]


def _record(
    session: AsyncSession,
    publisher_id: uuid.UUID,
    kind: str,
    reason: str,
    details: dict[str, object],
    now: dt.datetime,
) -> GrowthIntervention:
    done = GrowthIntervention(
        publisher_id=publisher_id, kind=kind, reason=reason, details=details, created_at=now
    )
    session.add(done)
    return done


async def check_in(
    session: AsyncSession,
    settings: Settings,
    publisher_id: uuid.UUID,
    health: Health,
    now: dt.datetime,
) -> GrowthIntervention | None:
    if await cooling(session, publisher_id, "check_in_email", now):
        return None
    publisher = await session.get(Publisher, publisher_id)
    facts = {
        "publisher": publisher.name if publisher else "your account",
        "score": health.score,
        "impressions_this_week": f"{health.impressions_this_week:,}",
        "impressions_last_week": f"{health.impressions_last_week:,}",
        "placements": health.placements,
        "networks": health.networks,
        "reports_url": settings.base_url.rstrip("/") + "/reports",
    }
    queued = await outbox.notify_publisher(
        session,
        settings,
        publisher_id,
        template="growth/check_in",
        context=facts,
        category="product",
        dedupe_key=f"growth:{publisher_id}:check_in:{now.date().isoformat()}",
    )
    return _record(
        session,
        publisher_id,
        "check_in_email",
        f"at risk: health {health.score}/100",
        {**facts, "recipients": len(queued)},
        now,
    )


async def discount_offer(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway | None,
    publisher_id: uuid.UUID,
    health: Health,
    now: dt.datetime,
) -> GrowthIntervention | None:
    """A coupon on the publisher's Stripe customer and an email to its owners, for a paying
    publisher at high churn risk. Nothing at all (no row, no email) when Stripe is not
    configured or fails: the next day's run tries again."""
    if gateway is None or health.churn_risk != "high":
        return None
    account = await session.get(BillingAccount, publisher_id)
    publisher = await session.get(Publisher, publisher_id)
    paying = (
        account is not None
        and account.plan == "tiered"
        and account.status == "active"
        and account.has_payment_method
    )
    if not paying or publisher is None or not publisher.stripe_customer_id:
        return None
    if await cooling(session, publisher_id, "discount_offer", now):
        return None
    reason = f"at risk: health {health.score}/100, {health.churn_risk} churn risk"
    try:
        coupon_id = await gateway.offer_discount(
            publisher.stripe_customer_id,
            percent_off=DISCOUNT_PERCENT,
            months=DISCOUNT_MONTHS,
            reason=reason,
            idempotency_key=f"discount:{publisher_id}:{now.date()}",
        )
    except StripeGatewayError as exc:
        log.warning("no discount offer for publisher %s: %s", publisher_id, exc)
        return None
    queued = await outbox.notify_publisher(
        session,
        settings,
        publisher_id,
        template="growth/discount_offer",
        context={
            "publisher": publisher.name,
            "percent_off": DISCOUNT_PERCENT,
            "months": DISCOUNT_MONTHS,
            "billing_url": settings.base_url.rstrip("/") + "/billing",
        },
        category="product",
        dedupe_key=f"growth:{publisher_id}:discount_offer:{now.date().isoformat()}",
        roles=("owner",),
    )
    details: dict[str, object] = {
        "coupon_id": coupon_id,
        "percent_off": DISCOUNT_PERCENT,
        "months": DISCOUNT_MONTHS,
        "recipients": len(queued),
    }
    return _record(session, publisher_id, "discount_offer", reason, details, now)


async def opportunities(
    session: AsyncSession,
    analytics: Analytics,
    settings: Settings,
    publisher_id: uuid.UUID,
    health: Health,
    now: dt.datetime,
) -> list[GrowthIntervention]:
    found: list[GrowthIntervention] = []
    days = await tracked_days(
        analytics, publisher_id, (now - dt.timedelta(days=7)).date(), now.date()
    )
    monthly = sum(d.revenue_micros for d in days.values()) * 30 // 7
    account = await session.get(BillingAccount, publisher_id)
    for band in invoicing.schedule_for(settings, account).bands[1:]:
        near = band.lower_micros * NEAR_BAND_PPM // 1_000_000
        if near <= monthly < band.lower_micros:
            if not await cooling(session, publisher_id, "upgrade_opportunity", now):
                found.append(
                    _record(
                        session,
                        publisher_id,
                        "upgrade_opportunity",
                        f"monthly pace {format_micros_as_dollars(monthly)} is near the "
                        f"{band.name} band at {format_micros_as_dollars(band.lower_micros)}",
                        {"monthly_pace_micros": monthly, "band": band.name},
                        now,
                    )
                )
            break
    apps = int(
        await session.scalar(
            select(func.count()).select_from(App).where(App.publisher_id == publisher_id)
        )
        or 0
    )
    if (
        health.churn_risk == "low"
        and apps == 1
        and not await cooling(session, publisher_id, "expansion_opportunity", now)
    ):
        found.append(
            _record(
                session,
                publisher_id,
                "expansion_opportunity",
                f"healthy ({health.score}/100) with a single app: more apps or platforms",
                {"apps": apps, "score": health.score},
                now,
            )
        )
    return found
