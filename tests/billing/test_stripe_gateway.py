"""The Stripe gateway, through the official SDK, against the local Stripe stand-in."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from apex_mediation.billing.stripe_gateway import (
    InvoiceLine,
    PaymentFailed,
    StripeGateway,
    StripeRejected,
    StripeUnavailable,
    WebhookSignatureInvalid,
)
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.settings import Settings

LINES = [
    InvoiceLine("Mediation fee, growth band", 12_345, {"band": "growth"}),
    InvoiceLine("Mediation fee, scale band", 6_789, {"band": "scale"}),
    InvoiceLine("Platform minimum", 1_000, {}),
]


def settings_for(fake: FakeStripe, webhook_secret: str | None = None) -> Settings:
    return Settings(
        APEX_STRIPE_SECRET_KEY=fake.api_key,
        APEX_STRIPE_API_BASE=fake.base_url,
        APEX_STRIPE_WEBHOOK_SECRET=webhook_secret or fake.webhook_secret,
    )


@pytest.fixture
async def gateway(fake_stripe: FakeStripe) -> AsyncIterator[StripeGateway]:
    built = StripeGateway.from_settings(settings_for(fake_stripe))
    assert built is not None
    async with built:
        yield built


async def new_customer(gateway: StripeGateway) -> str:
    publisher_id = str(uuid.uuid4())
    return await gateway.create_customer(
        publisher_id,
        "Pixel Forge",
        "billing@pixelforge.test",
        idempotency_key=f"customer:{publisher_id}",
    )


def test_no_secret_key_means_no_gateway() -> None:
    assert StripeGateway.from_settings(Settings(APEX_STRIPE_SECRET_KEY=None)) is None


async def test_create_customer_stores_publisher_metadata(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await gateway.create_customer(
        "pub-1", "Pixel Forge", "billing@pixelforge.test", idempotency_key="customer:pub-1"
    )

    assert customer_id.startswith("cus_")
    stored = fake_stripe.customers[customer_id]
    assert stored["metadata"] == {"publisher_id": "pub-1"}
    assert (stored["name"], stored["email"]) == ("Pixel Forge", "billing@pixelforge.test")


async def test_same_idempotency_key_returns_the_same_customer(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    first = await gateway.create_customer(
        "pub-2", "A", "a@x.test", idempotency_key="customer:pub-2"
    )
    again = await gateway.create_customer(
        "pub-2", "A", "a@x.test", idempotency_key="customer:pub-2"
    )

    assert again == first
    assert list(fake_stripe.customers) == [first]
    assert fake_stripe.requests["POST /v1/customers"] == 2


async def test_invoice_with_three_lines_is_finalized_with_their_sum(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)
    ref = str(uuid.uuid4())

    invoice = await gateway.create_invoice(
        customer_id, invoice_ref=ref, description="Apex Mediation, March 2026", lines=LINES
    )

    assert invoice.id.startswith("in_")
    assert invoice.status == "open"
    assert invoice.amount_due == 12_345 + 6_789 + 1_000
    assert invoice.hosted_invoice_url == f"{fake_stripe.base_url}/i/{invoice.id}"
    stored = fake_stripe.invoices[invoice.id]
    assert stored["metadata"] == {"invoice_ref": ref}
    assert stored["collection_method"] == "charge_automatically"
    assert stored["auto_advance"] is False
    lines = stored["lines"]["data"]
    assert [line["amount"] for line in lines] == [12_345, 6_789, 1_000]
    assert lines[0]["metadata"] == {"band": "growth", "invoice_ref": ref}
    assert fake_stripe.requests[f"POST /v1/invoices/{invoice.id}/finalize"] == 1


async def test_retrying_create_invoice_reuses_the_same_draft_and_items(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)
    ref = str(uuid.uuid4())

    first = await gateway.create_invoice(customer_id, invoice_ref=ref, description="M", lines=LINES)
    again = await gateway.create_invoice(customer_id, invoice_ref=ref, description="M", lines=LINES)

    assert again == first
    assert len(fake_stripe.invoices) == 1
    assert len(fake_stripe.invoice_items) == 3


async def test_send_invoice_gets_a_due_date(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)

    invoice = await gateway.create_invoice(
        customer_id, invoice_ref="ref-due", description="M", lines=LINES[:1], days_until_due=14
    )

    stored = fake_stripe.invoices[invoice.id]
    assert stored["collection_method"] == "send_invoice"
    assert stored["due_date"] - stored["status_transitions"]["finalized_at"] == 14 * 86400


async def test_zero_total_invoice_is_kept_and_closed_as_paid(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)

    invoice = await gateway.create_invoice(
        customer_id, invoice_ref="ref-zero", description="Starter band: no fee", lines=[]
    )

    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    assert [e["type"] for e in fake_stripe.events] == ["invoice.finalized", "invoice.paid"]


async def test_pay_invoice_charges_it(gateway: StripeGateway, fake_stripe: FakeStripe) -> None:
    customer_id = await new_customer(gateway)
    invoice = await gateway.create_invoice(
        customer_id, invoice_ref="ref-pay", description="M", lines=LINES
    )

    paid = await gateway.pay_invoice(invoice.id, idempotency_key=f"pay:{invoice.id}:1")

    assert (paid.id, paid.status) == (invoice.id, "paid")
    assert fake_stripe.invoices[invoice.id]["amount_paid"] == invoice.amount_due
    assert (await gateway.get_invoice(invoice.id)).status == "paid"


async def test_declined_card_raises_payment_failed_and_the_next_attempt_can_pay(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)
    invoice = await gateway.create_invoice(
        customer_id, invoice_ref="ref-decline", description="M", lines=LINES
    )
    fake_stripe.fail_next_payments(customer_id, 1, decline_code="insufficient_funds")

    with pytest.raises(PaymentFailed) as failed:
        await gateway.pay_invoice(invoice.id, idempotency_key=f"pay:{invoice.id}:1")
    # The same attempt retried replays Stripe's answer instead of charging again.
    with pytest.raises(PaymentFailed):
        await gateway.pay_invoice(invoice.id, idempotency_key=f"pay:{invoice.id}:1")
    stored = fake_stripe.invoices[invoice.id]
    attempts_after_decline = stored["attempt_count"]
    paid = await gateway.pay_invoice(invoice.id, idempotency_key=f"pay:{invoice.id}:2")

    assert failed.value.message == "Your card has insufficient funds."
    assert (failed.value.code, failed.value.decline_code) == ("card_declined", "insufficient_funds")
    assert attempts_after_decline == 1
    assert paid.status == "paid"
    assert stored["attempt_count"] == 2


async def test_checkout_setup_and_portal_links(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)

    checkout = await gateway.checkout_setup_link(
        customer_id,
        success_url="http://apex.test/billing?ok",
        cancel_url="http://apex.test/billing",
    )
    portal = await gateway.portal_link(customer_id, return_url="http://apex.test/billing")

    assert checkout.startswith(f"{fake_stripe.base_url}/checkout/cs_test_")
    assert portal.startswith(f"{fake_stripe.base_url}/portal/bps_")
    session = fake_stripe.sessions[checkout.rsplit("/", 1)[1]]
    assert (session["mode"], session["customer"]) == ("setup", customer_id)
    assert session["success_url"] == "http://apex.test/billing?ok"


async def test_offer_discount_gives_the_customer_a_repeating_coupon(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer_id = await new_customer(gateway)

    coupon_id = await gateway.offer_discount(
        customer_id, percent_off=20, months=2, reason="at risk", idempotency_key="discount:p:1"
    )
    again = await gateway.offer_discount(
        customer_id, percent_off=20, months=2, reason="at risk", idempotency_key="discount:p:1"
    )

    coupon = fake_stripe.coupons[coupon_id]
    assert (coupon["percent_off"], coupon["duration"], coupon["duration_in_months"]) == (
        20,
        "repeating",
        2,
    )
    assert coupon["metadata"] == {"reason": "at risk"}
    assert fake_stripe.customers[customer_id]["discount"]["coupon"]["id"] == coupon_id
    # The retry replayed both requests: one coupon, redeemed once.
    assert again == coupon_id
    assert list(fake_stripe.coupons) == [coupon_id]
    assert coupon["times_redeemed"] == 1


async def test_offer_discount_to_an_unknown_customer_is_rejected(gateway: StripeGateway) -> None:
    with pytest.raises(StripeRejected) as rejected:
        await gateway.offer_discount(
            "cus_missing", percent_off=20, months=2, reason="r", idempotency_key="discount:x:1"
        )

    assert (rejected.value.status, rejected.value.code) == (404, "resource_missing")


async def test_wrong_key_is_rejected_without_echoing_it(fake_stripe: FakeStripe) -> None:
    wrong = "sk_test_" + "w" * 32
    async with StripeGateway(wrong, api_base=fake_stripe.base_url) as gateway:
        with pytest.raises(StripeRejected) as rejected:
            await gateway.create_customer("p", "n", "e@x.test", idempotency_key="customer:p")

    assert rejected.value.status == 401
    assert wrong not in str(rejected.value)


async def test_unknown_invoice_is_rejected(gateway: StripeGateway) -> None:
    with pytest.raises(StripeRejected) as rejected:
        await gateway.pay_invoice("in_missing", idempotency_key="pay:in_missing:1")

    assert (rejected.value.status, rejected.value.code) == (404, "resource_missing")


async def test_unreachable_stripe_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = "sk_test_" + "u" * 32
    async with StripeGateway(
        key, api_base=f"http://127.0.0.1:{port}", max_network_retries=0
    ) as gateway:
        with pytest.raises(StripeUnavailable) as unavailable:
            await gateway.create_customer("p", "n", "e@x.test", idempotency_key="customer:p")

    assert key not in str(unavailable.value)


# Webhooks: real HMAC signatures from the fake, checked by the SDK's verification.

INVOICE = {"id": "in_123", "object": "invoice", "status": "paid", "amount_due": 500}


def test_valid_webhook_is_returned_as_the_event(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    payload, header = fake_stripe.signed_event("invoice.paid", INVOICE)

    event = gateway.verify_webhook(payload, header)

    assert event["type"] == "invoice.paid"
    assert event["id"].startswith("evt_")
    assert isinstance(event["created"], int)
    assert event["data"]["object"] == INVOICE


def test_tampered_webhook_is_refused(gateway: StripeGateway, fake_stripe: FakeStripe) -> None:
    payload, header = fake_stripe.signed_event("invoice.paid", INVOICE)
    tampered = payload.replace(b'"amount_due": 500', b'"amount_due": 5')

    with pytest.raises(WebhookSignatureInvalid):
        gateway.verify_webhook(tampered, header)


async def test_webhook_signed_with_another_secret_is_refused(fake_stripe: FakeStripe) -> None:
    payload, header = fake_stripe.signed_event("invoice.paid", INVOICE)
    settings = settings_for(fake_stripe, webhook_secret="whsec_" + "o" * 32)
    other = StripeGateway.from_settings(settings)
    assert other is not None

    async with other:
        with pytest.raises(WebhookSignatureInvalid, match="expected signature"):
            other.verify_webhook(payload, header)


def test_stale_webhook_is_refused(gateway: StripeGateway, fake_stripe: FakeStripe) -> None:
    old = int(time.time()) - 301
    payload, header = fake_stripe.signed_event("invoice.paid", INVOICE, timestamp=old)

    with pytest.raises(WebhookSignatureInvalid, match="tolerance"):
        gateway.verify_webhook(payload, header)
    assert gateway.verify_webhook(payload, header, tolerance_s=600)["type"] == "invoice.paid"


def test_missing_signature_header_is_refused(
    gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    payload, _ = fake_stripe.signed_event("invoice.paid", INVOICE)

    with pytest.raises(WebhookSignatureInvalid):
        gateway.verify_webhook(payload, "")
