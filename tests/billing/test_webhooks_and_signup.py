"""Signup gives the publisher a Stripe customer without waiting on Stripe; webhook replays under
concurrency apply once; subscription news arriving late never overwrites newer news."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from apex_mediation.billing.runtime import BillingRuntime
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.db.models import AuditLog, BillingAccount, Publisher
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.services import Services
from tests.helpers import Tenant


@pytest.fixture
async def stripe_app(app: FastAPI, fake_stripe: FakeStripe) -> AsyncIterator[StripeGateway]:
    """The shared app with a gateway to the local Stripe stand-in, for one test."""
    gateway = StripeGateway(
        fake_stripe.api_key,
        api_base=fake_stripe.base_url,
        webhook_secret=fake_stripe.webhook_secret,
    )
    previous = getattr(app.state, "billing", None)
    app.state.billing = BillingRuntime(gateway)
    try:
        yield gateway
    finally:
        app.state.billing = previous
        await gateway.aclose()


async def _publisher(services: Services, publisher_id: str) -> Publisher:
    async with services.postgres.session() as session:
        found = await session.get(Publisher, uuid.UUID(publisher_id))
        assert found is not None
        return found


async def test_signup_creates_the_stripe_customer(
    stripe_app: StripeGateway,
    fake_stripe: FakeStripe,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    async with make_client() as http:
        tenant = await Tenant.signup(http, name="Customer Games")
    publisher = await _publisher(services, tenant.publisher_id)
    assert publisher.stripe_customer_id in fake_stripe.customers
    customer = fake_stripe.customers[publisher.stripe_customer_id or ""]
    assert customer["metadata"]["publisher_id"] == tenant.publisher_id
    assert customer["email"] == tenant.email and customer["name"] == "Customer Games"


async def test_signup_succeeds_while_stripe_is_down(
    stripe_app: StripeGateway,
    fake_stripe: FakeStripe,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    await fake_stripe.stop()
    async with make_client() as http:
        tenant = await Tenant.signup(http)
    assert (await _publisher(services, tenant.publisher_id)).stripe_customer_id is None


async def _webhook(http: httpx.AsyncClient, payload: bytes, signature: str) -> httpx.Response:
    return await http.post(
        "/api/v1/billing/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def test_concurrent_replays_apply_once_and_late_news_is_ignored(
    stripe_app: StripeGateway,
    fake_stripe: FakeStripe,
    services: Services,
    tenant: Tenant,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    publisher = await _publisher(services, tenant.publisher_id)
    assert publisher.stripe_customer_id
    subscription = {
        "id": "sub_" + uuid.uuid4().hex[:12],
        "object": "subscription",
        "customer": publisher.stripe_customer_id,
        "status": "active",
    }
    newer, newer_sig = fake_stripe.signed_event("customer.subscription.updated", subscription)
    older_obj = {**subscription, "status": "incomplete"}
    older, older_sig = fake_stripe.signed_event(
        "customer.subscription.created", older_obj, timestamp=None
    )
    # The older event was created earlier at Stripe: backdate its `created` (and re-sign).
    import json

    from apex_mediation.demo.fake_stripe import sign

    event = json.loads(older)
    event["created"] -= 60
    older = json.dumps(event).encode()
    older_sig = sign(older, fake_stripe.webhook_secret, int(older_sig.split(",")[0][2:]))

    async with make_client() as http:
        answers = await asyncio.gather(*(_webhook(http, newer, newer_sig) for _ in range(8)))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        assert sum(a.json()["applied"] for a in answers) == 1
        assert sum(a.json()["duplicate"] for a in answers) == 7
        late = await _webhook(http, older, older_sig)
        assert late.status_code == 200 and late.json()["applied"] is False
    async with services.postgres.session() as session:
        account = await session.get(BillingAccount, publisher.id)
        changes = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.publisher_id == publisher.id,
                AuditLog.action == "billing.subscription_changed",
            )
        )
    assert account is not None and account.stripe_subscription_status == "active"
    assert changes == 1


async def test_payment_method_and_portal_links(
    stripe_app: StripeGateway, fake_stripe: FakeStripe, tenant: Tenant
) -> None:
    checkout = await tenant.call("POST", "/api/v1/billing/payment-method")
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["url"].startswith(fake_stripe.base_url + "/checkout/")
    portal = await tenant.call("POST", "/api/v1/billing/portal")
    assert portal.json()["url"].startswith(fake_stripe.base_url + "/portal/")
    # The console's button sends the browser straight to Stripe's page.
    page = await tenant.http.post("/billing/payment-method", data={"csrf_token": tenant.csrf})
    assert page.status_code == 303
    assert page.headers["location"].startswith(fake_stripe.base_url + "/checkout/")
    # A read-only key cannot open payment pages.
    reader = await tenant.session_call(
        "POST", "/api/v1/api-keys", json={"name": "r", "scopes": ["reporting"]}
    )
    refused = await tenant.http.post(
        "/api/v1/billing/payment-method",
        headers={"Authorization": f"Bearer {reader.json()['key']}"},
    )
    assert refused.status_code == 403


async def test_without_stripe_the_links_say_payments_are_not_configured(tenant: Tenant) -> None:
    response = await tenant.call("POST", "/api/v1/billing/payment-method")
    assert response.status_code == 400
    assert "not configured" in response.json()["error"]["message"]
