"""The discount offer, through the local Stripe stand-in: a paying publisher whose traffic
collapses (at risk, high churn risk) gets one 20 % coupon for two months on its Stripe customer,
an email to its owner and a record, once within 90 days; without Stripe, or when Stripe fails,
only the check-in goes out; a publisher on its trial never gets one."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select, update

from apex_mediation.billing import invoicing
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.db.models import (
    BillingAccount,
    GrowthIntervention,
    HealthScore,
    NotificationOutbox,
    Publisher,
)
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.growth import engine, interventions, lifecycle
from apex_mediation.growth.health import Health
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.reporting.data import event

T0 = dt.datetime(2097, 6, 1, 6, tzinfo=dt.UTC)  # apart from the growth month test's clock
DAYS = 30
# Two steady weeks, then a collapse. Day 15: 204 impressions in the last 7 days against 280
# the week before (trend 10 points), with one placement, no network and no console login:
# high churn risk, at risk.
PER_DAY = {day: 40 if day < 14 else 2 for day in range(DAYS)}
OFFER_DAY = 15

Stripe = tuple[FakeStripe, StripeGateway]


@pytest.fixture
async def stripe() -> AsyncIterator[Stripe]:
    async with (
        FakeStripe.running(host="127.0.0.1", port=0) as fake,
        StripeGateway(fake.api_key, api_base=fake.base_url) as gateway,
    ):
        yield fake, gateway


async def _publisher(
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
    gateway: StripeGateway,
    *,
    trial: bool = False,
) -> Tenant:
    """A publisher with a Stripe customer and a saved card, paying (or on its trial), and the
    traffic of PER_DAY."""
    async with make_client() as http:
        tenant = await Tenant.signup(http, name=f"Falling Games {uuid.uuid4().hex[:6]}")
        app = await tenant.android_app()
        placement = await tenant.create(
            "/api/v1/placements", {"name": "p", "appId": app["id"], "format": "rewarded"}
        )
    publisher_id = uuid.UUID(tenant.publisher_id)
    terms = (
        {"plan": "trial", "status": "trialing", "trial_ends_at": T0 + dt.timedelta(days=60)}
        if trial
        else {"plan": "tiered", "status": "active", "trial_ends_at": T0 - dt.timedelta(days=1)}
    )
    async with services.postgres.session() as session:
        await session.execute(
            update(BillingAccount)
            .where(BillingAccount.publisher_id == publisher_id)
            .values(
                created_at=T0 - dt.timedelta(days=15),
                trial_started_at=T0 - dt.timedelta(days=15),
                has_payment_method=True,
                **terms,
            )
        )
        publisher = await session.get(Publisher, publisher_id)
        assert publisher is not None
        await invoicing.ensure_customer(session, gateway, publisher)
        await session.commit()
    rows = [
        event(publisher_id, at=T0 + dt.timedelta(days=day, hours=1, seconds=n),
              app_id=uuid.UUID(app["id"]), placement_id=uuid.UUID(placement["id"]),
              format="rewarded", cpm_micros=5_000_000_000)
        for day, count in PER_DAY.items()
        for n in range(count)
    ]  # fmt: skip
    await services.analytics.insert("events", rows)
    return tenant


async def _run(
    services: Services,
    publisher_id: uuid.UUID,
    gateway: StripeGateway | None,
    days: range = range(DAYS),
) -> int:
    """Run the growth engine day by day; returns the discounts it counted."""
    discounts = 0
    for day in days:
        now = T0 + dt.timedelta(days=day, hours=12)
        counts = await engine.run_day(services, now, publisher_ids=[publisher_id], gateway=gateway)
        assert counts.get("errors", 0) == 0, (day, counts)
        discounts += counts.get("discounts", 0)
    return discounts


async def _done(services: Services, publisher_id: uuid.UUID) -> list[tuple[str, int]]:
    async with services.postgres.session() as session:
        rows = await session.scalars(
            select(GrowthIntervention)
            .where(GrowthIntervention.publisher_id == publisher_id)
            .order_by(GrowthIntervention.created_at)
        )
        return [(row.kind, (row.created_at - T0).days) for row in rows]


async def _emails(services: Services, publisher_id: uuid.UUID) -> list[NotificationOutbox]:
    async with services.postgres.session() as session:
        return list(
            await session.scalars(
                select(NotificationOutbox).where(
                    NotificationOutbox.publisher_id == publisher_id,
                    NotificationOutbox.template == "growth/discount_offer",
                )
            )
        )


async def test_a_paying_publisher_at_high_risk_gets_one_discount(
    services: Services, make_client: Callable[[], httpx.AsyncClient], stripe: Stripe
) -> None:
    fake, gateway = stripe
    tenant = await _publisher(services, make_client, gateway)
    publisher_id = uuid.UUID(tenant.publisher_id)

    counted = await _run(services, publisher_id, gateway)

    async with services.postgres.session() as session:
        stages = {t.to_stage: (t.occurred_at - T0).days
                  for t in await lifecycle.history(session, publisher_id)}  # fmt: skip
        high = await session.scalars(
            select(HealthScore.day).where(
                HealthScore.publisher_id == publisher_id, HealthScore.churn_risk == "high"
            )
        )
        high_days = sorted((day - T0.date()).days for day in high)
        publisher = await session.get(Publisher, publisher_id)
        offer = await session.scalar(
            select(GrowthIntervention).where(
                GrowthIntervention.publisher_id == publisher_id,
                GrowthIntervention.kind == "discount_offer",
            )
        )
    # Twelve days at high churn risk, until a week of 2 a day follows another; one discount,
    # and the check-in goes out beside it.
    assert stages["at_risk"] == OFFER_DAY
    assert high_days == list(range(OFFER_DAY, 27))
    done = await _done(services, publisher_id)
    assert [d for kind, d in done if kind == "discount_offer"] == [OFFER_DAY]
    assert ("check_in_email", OFFER_DAY) in done
    assert counted == 1
    assert publisher is not None and offer is not None
    coupon_id = offer.details["coupon_id"]
    assert offer.details["percent_off"] == 20 and offer.details["months"] == 2
    coupon = fake.coupons[coupon_id]
    assert (coupon["percent_off"], coupon["duration"], coupon["duration_in_months"]) == (
        20,
        "repeating",
        2,
    )
    assert coupon["metadata"]["reason"] == offer.reason
    customer = fake.customers[str(publisher.stripe_customer_id)]
    assert customer["discount"]["coupon"]["id"] == coupon_id
    assert list(fake.coupons) == [coupon_id]
    [email] = await _emails(services, publisher_id)
    assert (email.recipient, email.category) == (tenant.email, "product")
    assert "20% off" in email.subject
    assert "2 months" in email.body_text
    assert services.settings.base_url.rstrip("/") + "/billing" in email.body_text

    # The same week run again: nothing more, in Stripe or here.
    again = await _run(services, publisher_id, gateway, range(OFFER_DAY, OFFER_DAY + 7))

    assert again == 0
    assert await _done(services, publisher_id) == done
    assert list(fake.coupons) == [coupon_id]
    assert len(await _emails(services, publisher_id)) == 1


@pytest.mark.parametrize("stripe_state", ["not configured", "failing"])
async def test_without_stripe_only_the_check_in_goes_out(
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
    stripe: Stripe,
    stripe_state: str,
) -> None:
    fake, gateway = stripe
    tenant = await _publisher(services, make_client, gateway)
    publisher_id = uuid.UUID(tenant.publisher_id)

    if stripe_state == "failing":  # Stripe refuses the key: a StripeRejected on the coupon
        async with StripeGateway("sk_test_" + "w" * 32, api_base=fake.base_url) as refused:
            counted = await _run(services, publisher_id, refused)
    else:
        counted = await _run(services, publisher_id, None)

    done = await _done(services, publisher_id)
    assert counted == 0
    assert ("check_in_email", OFFER_DAY) in done
    assert "discount_offer" not in {kind for kind, _ in done}
    assert await _emails(services, publisher_id) == []
    assert fake.coupons == {}


async def test_a_publisher_on_its_trial_never_gets_one(
    services: Services, make_client: Callable[[], httpx.AsyncClient], stripe: Stripe
) -> None:
    fake, gateway = stripe
    tenant = await _publisher(services, make_client, gateway, trial=True)
    publisher_id = uuid.UUID(tenant.publisher_id)

    counted = await _run(services, publisher_id, gateway)
    # Even offered directly, at high risk, the trial account is refused.
    high = Health(20, 3, 4, 0, 13, "high", 14, 280, 1, 0, 0, "trialing")
    async with services.postgres.session() as session:
        direct = await interventions.discount_offer(
            session, services.settings, gateway, publisher_id, high, T0 + dt.timedelta(days=20)
        )
        await session.rollback()

    assert counted == 0 and direct is None
    assert "discount_offer" not in {kind for kind, _ in await _done(services, publisher_id)}
    assert await _emails(services, publisher_id) == []
    assert fake.coupons == {}
