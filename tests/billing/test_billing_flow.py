"""Billing end to end on the real stores and the local Stripe stand-in: a month of tracked
traffic becomes a correct invoice with a line per band, is pushed to Stripe and paid; a declined
card walks through dunning to restricted access and back; webhooks are verified, applied once
and safe in any order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update

from apex_mediation.billing import cycle, dunning, invoicing, webhooks
from apex_mediation.billing.metrics import stripe_revenue_cents
from apex_mediation.billing.runtime import BillingRuntime
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.db.models import (
    AuditLog,
    BillingAccount,
    DunningCase,
    Invoice,
    InvoiceLine,
    NotificationOutbox,
    Publisher,
    StripeWebhookEvent,
    UsageRecord,
)
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.reporting.data import event

USD = 1_000_000
NOW = dt.datetime.now(dt.UTC)
THIS_MONTH = NOW.date().replace(day=1)
LAST_MONTH = (THIS_MONTH - dt.timedelta(days=1)).replace(day=1)


def _at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(LAST_MONTH.replace(day=day), dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
async def stripe_services(
    services: Services, fake_stripe: FakeStripe
) -> AsyncIterator[tuple[Services, StripeGateway]]:
    settings = services.settings.model_copy(
        update={
            "stripe_secret_key": fake_stripe.api_key,
            "stripe_api_base": fake_stripe.base_url,
            "stripe_webhook_secret": fake_stripe.webhook_secret,
        }
    )
    settings.stripe_secret_key = SecretStr(fake_stripe.api_key)
    settings.stripe_webhook_secret = SecretStr(fake_stripe.webhook_secret)
    gateway = StripeGateway.from_settings(settings)
    assert gateway is not None
    async with gateway:
        yield dataclasses.replace(services, settings=settings), gateway


async def _month_of_traffic(services: Services, tenant: Tenant) -> uuid.UUID:
    """Last month: $10,000 on trial days (free), then $150,000 of billable revenue, plus test
    and invalid traffic that must not count."""
    publisher_id = uuid.UUID(tenant.publisher_id)
    app, placement = uuid.uuid4(), uuid.uuid4()
    rows = []
    # CPM micros per impression = revenue micros x 1000.
    rows.append(
        event(
            publisher_id,
            at=_at(2),
            app_id=app,
            placement_id=placement,
            cpm_micros=10_000 * USD * 1000,
        )
    )
    for day, dollars in ((10, 60_000), (20, 50_000), (28, 40_000)):
        rows.append(
            event(
                publisher_id,
                at=_at(day),
                app_id=app,
                placement_id=placement,
                network="unity",
                cpm_micros=dollars * USD * 1000,
            )
        )
    rows.append(
        event(
            publisher_id,
            at=_at(15),
            app_id=app,
            placement_id=placement,
            cpm_micros=999_999 * USD * 1000,
            test=1,
        )
    )
    rows.append(
        event(
            publisher_id,
            at=_at(16),
            app_id=app,
            placement_id=placement,
            cpm_micros=777_777 * USD * 1000,
            ivt=1,
        )
    )
    await services.analytics.insert("events", rows)
    async with services.postgres.session() as session:
        await session.execute(
            update(BillingAccount)
            .where(BillingAccount.publisher_id == publisher_id)
            .values(
                created_at=_at(1, 0),
                trial_started_at=_at(1, 0) - dt.timedelta(days=10),
                trial_ends_at=_at(5, 0),  # days 1-4 of last month are trial days
                plan="tiered",
                status="active",
            )
        )
        await session.commit()
    return publisher_id


async def _customer(services: Services, gateway: StripeGateway, publisher_id: uuid.UUID) -> str:
    async with services.postgres.session() as session:
        publisher = await session.get(Publisher, publisher_id)
        assert publisher is not None
        customer = await invoicing.ensure_customer(session, gateway, publisher)
        await session.commit()
        return customer


async def _invoice(services: Services, publisher_id: uuid.UUID) -> Invoice:
    async with services.postgres.session() as session:
        found = await session.scalar(
            select(Invoice).where(
                Invoice.publisher_id == publisher_id, Invoice.period_start == LAST_MONTH
            )
        )
        assert found is not None
        return found


async def _issue(
    services: Services, gateway: StripeGateway, publisher_id: uuid.UUID, now: dt.datetime = NOW
) -> cycle.CycleReport:
    report = cycle.CycleReport()
    await cycle.issue_month(services, gateway, LAST_MONTH, now, report, [publisher_id])
    assert report.errors == []
    return report


async def test_a_month_of_traffic_becomes_a_correct_paid_invoice(
    stripe_services: tuple[Services, StripeGateway], fake_stripe: FakeStripe, tenant: Tenant
) -> None:
    services, gateway = stripe_services
    publisher_id = await _month_of_traffic(services, tenant)
    revenue_before = stripe_revenue_cents._value.get()

    report = await _issue(services, gateway, publisher_id)
    assert (report.invoices_issued, report.invoices_pushed, report.payments_failed) == (1, 1, 0)

    invoice = await _invoice(services, publisher_id)
    assert invoice.revenue_micros == 160_000 * USD
    assert invoice.trial_revenue_micros == 10_000 * USD
    # $150,000 billable: $10k free, 2.5 % of $90k, 2 % of $50k = $3,250.
    assert invoice.total_cents == 325_000
    assert invoice.status == "paid" and invoice.amount_paid_cents == 325_000
    assert stripe_revenue_cents._value.get() - revenue_before == 325_000
    async with services.postgres.session() as session:
        lines = list(
            await session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice.id)
                .order_by(InvoiceLine.position)
            )
        )
        days = list(
            await session.scalars(
                select(UsageRecord).where(
                    UsageRecord.publisher_id == publisher_id,
                    UsageRecord.period_start >= LAST_MONTH,
                    UsageRecord.period_start < THIS_MONTH,
                )
            )
        )
        publisher = await session.get(Publisher, publisher_id)
    assert [(li.band, li.revenue_micros, li.amount_cents) for li in lines] == [
        ("starter", 10_000 * USD, 0),
        ("growth", 90_000 * USD, 225_000),
        ("scale", 50_000 * USD, 100_000),
        ("enterprise", 0, 0),
    ]
    assert sum(li.amount_cents for li in lines) == invoice.total_cents
    # Daily usage for every day of the month, test and invalid traffic excluded.
    assert len(days) == (THIS_MONTH - LAST_MONTH).days
    assert sum(d.mediated_revenue_micros for d in days) == 160_000 * USD
    assert sum(d.impressions for d in days) == 4

    # Stripe holds the same invoice: one item per band with a fee, the customer ours.
    assert publisher is not None and publisher.stripe_customer_id
    stripe_invoice = fake_stripe.invoices[invoice.stripe_invoice_id or ""]
    assert stripe_invoice["customer"] == publisher.stripe_customer_id
    assert stripe_invoice["amount_due"] == 325_000
    assert stripe_invoice["status"] == "paid"
    items = [i for i in fake_stripe.invoice_items.values() if i["invoice"] == stripe_invoice["id"]]
    assert sorted(i["amount"] for i in items) == [100_000, 225_000]

    # Issuing again changes nothing and sends nothing to Stripe.
    calls = sum(fake_stripe.requests.values())
    again = await _issue(services, gateway, publisher_id)
    assert again.invoices_issued == 0
    assert sum(fake_stripe.requests.values()) == calls

    # The publisher sees it through the API, as HTML and as PDF.
    listed = await tenant.call("GET", "/api/v1/billing/invoices")
    assert [i["number"] for i in listed.json()] == [invoice.number]
    detail = await tenant.call("GET", f"/api/v1/billing/invoices/{invoice.id}")
    assert [line["amountCents"] for line in detail.json()["lines"]] == [0, 225_000, 100_000, 0]
    html = await tenant.call("GET", f"/api/v1/billing/invoices/{invoice.id}/html")
    assert html.status_code == 200 and "$3,250.00" in html.text
    pdf = await tenant.call("GET", f"/api/v1/billing/invoices/{invoice.id}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


async def _audit_actions(services: Services, publisher_id: uuid.UUID) -> list[str]:
    async with services.postgres.session() as session:
        return list(
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.publisher_id == publisher_id, AuditLog.action.like("billing.%"))
                .order_by(AuditLog.id)
            )
        )


async def _mails(services: Services, publisher_id: uuid.UUID) -> list[str]:
    async with services.postgres.session() as session:
        return list(
            await session.scalars(
                select(NotificationOutbox.template)
                .where(NotificationOutbox.publisher_id == publisher_id)
                .order_by(NotificationOutbox.created_at)
            )
        )


async def test_a_declined_card_walks_through_dunning_and_recovers(
    stripe_services: tuple[Services, StripeGateway],
    fake_stripe: FakeStripe,
    tenant: Tenant,
) -> None:
    services, gateway = stripe_services
    publisher_id = await _month_of_traffic(services, tenant)
    customer = await _customer(services, gateway, publisher_id)
    fake_stripe.set_card_declines(customer, True, "insufficient_funds")

    report = await _issue(services, gateway, publisher_id)
    assert report.payments_failed == 1
    invoice = await _invoice(services, publisher_id)
    assert invoice.status == "open"

    async def standing() -> tuple[str, DunningCase]:
        async with services.postgres.session() as session:
            account = await session.get(BillingAccount, publisher_id)
            case = await session.scalar(
                select(DunningCase).where(DunningCase.invoice_id == invoice.id)
            )
            assert account is not None and case is not None
            return account.status, case

    status, case = await standing()
    assert status == "past_due" and case.step == 0 and case.outcome == "open"
    summary = await tenant.call("GET", "/api/v1/billing/summary")
    assert summary.json()["status"] == "past_due"
    assert summary.json()["dunning"]["invoiceId"] == str(invoice.id)

    # Retries on days 3, 5 and 7 all decline; nothing happens in between.
    async def advance(days: float) -> dunning.Progress:
        async with services.postgres.session() as session:
            progress = await dunning.advance(
                session, services.settings, gateway, NOW + dt.timedelta(days=days)
            )
            await session.commit()
            return progress

    assert (await advance(1)).retried == 0
    for day, step in ((3.1, 1), (5.1, 2), (7.1, 3)):
        assert (await advance(day)).retried == 1
        status, case = await standing()
        assert (status, case.step) == ("past_due", step)
    # Changes still allowed while past due; after the grace period, restricted.
    assert (await advance(9)).restricted == 0
    assert (await advance(10.1)).restricted == 1
    status, case = await standing()
    assert status == "restricted" and case.restricted_at is not None
    refused = await tenant.call(
        "POST",
        "/api/v1/apps",
        json={"name": "Blocked", "platform": "android", "bundleId": "com.example.blocked"},
    )
    assert refused.status_code == 402
    assert "billing" in refused.json()["error"]["message"]
    page = await tenant.http.get("/dashboard")
    assert "Your account is restricted" in page.text
    assert (await tenant.call("GET", "/api/v1/billing/invoices")).status_code == 200

    # The publisher saves a working card; the payment succeeds by webhook.
    fake_stripe.set_card_declines(customer, False)
    paid = await gateway.pay_invoice(invoice.stripe_invoice_id or "", idempotency_key="test-pay")
    assert paid.status == "paid"
    payload, signature = fake_stripe.signed_event(
        "invoice.paid", fake_stripe.invoices[invoice.stripe_invoice_id or ""]
    )
    async with services.postgres.session() as session:
        outcome = await webhooks.receive(
            session, services.settings, gateway.verify_webhook(payload, signature), NOW
        )
        await session.commit()
    assert outcome.applied
    status, case = await standing()
    assert status == "active" and case.outcome == "recovered"
    allowed = await tenant.call(
        "POST",
        "/api/v1/apps",
        json={"name": "Allowed", "platform": "android", "bundleId": "com.example.allowed"},
    )
    assert allowed.status_code == 201, allowed.text

    assert await _audit_actions(services, publisher_id) == [
        "billing.customer_created",
        "billing.invoice_created",
        "billing.dunning_started",
        "billing.payment_retried",
        "billing.payment_retried",
        "billing.payment_retried",
        "billing.access_restricted",
        "billing.invoice_paid",
        "billing.dunning_recovered",
    ]
    assert await _mails(services, publisher_id) == [
        "billing/invoice_issued",
        "billing/payment_failed",
        "billing/payment_retry_failed",
        "billing/payment_retry_failed",
        "billing/payment_retry_failed",
        "billing/account_restricted",
        "billing/payment_recovered",
    ]


async def test_webhooks_are_verified_idempotent_and_order_safe(
    app: FastAPI,
    stripe_services: tuple[Services, StripeGateway],
    fake_stripe: FakeStripe,
    tenant: Tenant,
) -> None:
    services, gateway = stripe_services
    publisher_id = await _month_of_traffic(services, tenant)
    customer = await _customer(services, gateway, publisher_id)
    fake_stripe.fail_next_payments(customer, 1)
    await _issue(services, gateway, publisher_id)
    invoice = await _invoice(services, publisher_id)
    stripe_obj = dict(fake_stripe.invoices[invoice.stripe_invoice_id or ""])

    previous = getattr(app.state, "billing", None)
    app.state.billing = BillingRuntime(gateway)
    try:

        async def post(payload: bytes, signature: str) -> tuple[int, dict[str, object]]:
            response = await tenant.http.post(
                "/api/v1/billing/stripe/webhook",
                content=payload,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )
            return response.status_code, response.json()

        # A forged or tampered event is refused before anything is read.
        payload, signature = fake_stripe.signed_event(
            "invoice.paid", {**stripe_obj, "status": "paid"}
        )
        status, body = await post(payload.replace(b"paid", b"PAID"), signature)
        assert status == 400 and "Stripe-Signature" in json.dumps(body)

        # Out of order: the payment (created later) arrives first, the failure after it.
        paid_obj = {**stripe_obj, "status": "paid", "amount_paid": stripe_obj["amount_due"]}
        paid, paid_sig = fake_stripe.signed_event("invoice.paid", paid_obj)
        failed, failed_sig = fake_stripe.signed_event("invoice.payment_failed", stripe_obj)
        assert (await post(paid, paid_sig))[1]["applied"] is True
        for _ in range(3):  # Stripe redelivers: the same event changes nothing again
            assert (await post(paid, paid_sig))[1]["duplicate"] is True
        status, body = await post(failed, failed_sig)
        assert status == 200 and body["applied"] is False
    finally:
        app.state.billing = previous

    async with services.postgres.session() as session:
        fresh = await session.get(Invoice, invoice.id)
        account = await session.get(BillingAccount, publisher_id)
        events = await session.scalars(
            select(StripeWebhookEvent.event_id).where(
                StripeWebhookEvent.event_id.in_([json.loads(paid)["id"], json.loads(failed)["id"]])
            )
        )
        case = await session.scalar(select(DunningCase).where(DunningCase.invoice_id == invoice.id))
    assert fresh is not None and fresh.status == "paid"
    assert account is not None and account.status == "active"
    assert len(list(events)) == 2
    # The first (synchronous) attempt failed and opened a case; the paid webhook closed it.
    assert case is not None and case.outcome == "recovered"


async def test_the_cycle_runs_in_one_process_at_a_time(
    stripe_services: tuple[Services, StripeGateway], tenant: Tenant
) -> None:
    from sqlalchemy import func as sql_func

    from apex_mediation.billing import metrics as billing_metrics

    services, gateway = stripe_services
    async with services.postgres.engine.connect() as other:
        assert await other.scalar(select(sql_func.pg_try_advisory_lock(cycle._LOCK_KEY)))
        skipped = await cycle.run(services, gateway, NOW)
        await other.scalar(select(sql_func.pg_advisory_unlock(cycle._LOCK_KEY)))
    assert skipped.ran is False and skipped.usage_days == 0
    report = await cycle.run(services, gateway, NOW)
    assert report.ran and report.errors == []
    assert report.usage_days >= 2  # yesterday and today for every publisher, this one included
    publisher = await _publisher_row(services, uuid.UUID(tenant.publisher_id))
    assert publisher.stripe_customer_id  # the cycle gave the new publisher its customer
    async with services.postgres.session() as session:
        paid = await session.scalar(
            select(sql_func.coalesce(sql_func.sum(Invoice.amount_paid_cents), 0)).where(
                Invoice.status == "paid", Invoice.stripe_invoice_id.is_not(None)
            )
        )
        await billing_metrics.refresh(session)
    assert stripe_revenue_cents._value.get() == paid


async def _publisher_row(services: Services, publisher_id: uuid.UUID) -> Publisher:
    async with services.postgres.session() as session:
        found = await session.get(Publisher, publisher_id)
        assert found is not None
        return found
