"""The local Stripe stand-in speaks Stripe's protocol: auth, idempotency, errors, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe
from aiohttp import web

from apex_mediation.billing.stripe_gateway import InvoiceLine, PaymentFailed, StripeGateway
from apex_mediation.demo.fake_stripe import FakeStripe, parse_form


@pytest.fixture
async def api(fake_stripe: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {fake_stripe.api_key}"}
    async with httpx.AsyncClient(base_url=fake_stripe.base_url, headers=headers) as client:
        yield client


class Receiver:
    """A webhook endpoint that records what it is sent and answers `statuses` in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[bytes, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), request.headers["Stripe-Signature"]))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    endpoint = Receiver([])
    app = web.Application()
    app.router.add_post("/webhooks/stripe", endpoint.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield endpoint, f"http://127.0.0.1:{port}/webhooks/stripe"
    await runner.cleanup()


def test_parse_form_builds_nested_objects_and_lists() -> None:
    body = "name=A&metadata[publisher_id]=p1&lines[1][amount]=2&lines[0][amount]=1&flag=true"

    assert parse_form(body) == {
        "name": "A",
        "metadata": {"publisher_id": "p1"},
        "lines": [{"amount": "1"}, {"amount": "2"}],
        "flag": "true",
    }


async def test_requests_without_a_key_get_401_in_stripe_shape(fake_stripe: FakeStripe) -> None:
    async with httpx.AsyncClient(base_url=fake_stripe.base_url) as client:
        response = await client.post("/v1/customers", data={"name": "A"})

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake_stripe.customers == {}


async def test_wrong_key_is_masked_in_the_401(fake_stripe: FakeStripe) -> None:
    wrong = "sk_test_" + "z" * 30 + "WXYZ"
    async with httpx.AsyncClient(base_url=fake_stripe.base_url) as client:
        response = await client.get("/v1/customers", headers={"Authorization": f"Bearer {wrong}"})

    message = response.json()["error"]["message"]
    assert response.status_code == 401
    assert wrong not in message
    assert message.endswith("WXYZ")


async def test_idempotency_key_replays_the_first_answer(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    headers = {"Idempotency-Key": "customer:pub-9"}
    first = await api.post("/v1/customers", data={"name": "A"}, headers=headers)
    again = await api.post("/v1/customers", data={"name": "A"}, headers=headers)

    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(fake_stripe.customers) == 1


async def test_idempotency_key_reused_with_other_params_is_refused(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    headers = {"Idempotency-Key": "customer:pub-10"}
    await api.post("/v1/customers", data={"name": "A"}, headers=headers)
    conflict = await api.post("/v1/customers", data={"name": "B"}, headers=headers)
    other_path = await api.post("/v1/invoices", data={"customer": "cus_x"}, headers=headers)

    assert conflict.status_code == 400
    assert conflict.json()["error"]["type"] == "idempotency_error"
    assert "customer:pub-10" in conflict.json()["error"]["message"]
    assert other_path.json()["error"]["type"] == "idempotency_error"
    assert len(fake_stripe.customers) == 1


async def test_unknown_objects_and_missing_params_answer_like_stripe(
    api: httpx.AsyncClient,
) -> None:
    missing = await api.get("/v1/invoices/in_nope")
    no_customer = await api.post("/v1/invoices", data={})

    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "type": "invalid_request_error",
        "message": "No such invoice: 'in_nope'",
        "code": "resource_missing",
        "param": "id",
    }
    assert no_customer.status_code == 400
    assert no_customer.json()["error"]["code"] == "parameter_missing"


async def test_finalized_invoice_takes_no_more_items(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = (await api.post("/v1/customers", data={"name": "A"})).json()["id"]
    invoice = (await api.post("/v1/invoices", data={"customer": customer})).json()["id"]
    await api.post("/v1/invoiceitems", data={"customer": customer, "invoice": invoice, "amount": 7})
    await api.post(f"/v1/invoices/{invoice}/finalize")

    late = await api.post(
        "/v1/invoiceitems", data={"customer": customer, "invoice": invoice, "amount": 1}
    )

    assert late.json()["error"]["code"] == "invoice_not_editable"
    assert fake_stripe.invoices[invoice]["amount_due"] == 7


def test_signed_event_uses_stripes_scheme(fake_stripe: FakeStripe) -> None:
    payload, header = fake_stripe.signed_event("invoice.finalized", {"id": "in_1"})
    timestamp, signature = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(
        fake_stripe.webhook_secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()

    assert header.startswith("t=") and ",v1=" in header
    assert signature == expected
    assert stripe.WebhookSignature.verify_header(payload, header, fake_stripe.webhook_secret)
    assert json.loads(payload)["object"] == "event"


async def test_invoice_events_are_delivered_in_order_and_verify(
    fake_stripe: FakeStripe, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    fake_stripe.deliver_to(url)
    gateway = StripeGateway(
        fake_stripe.api_key,
        api_base=fake_stripe.base_url,
        webhook_secret=fake_stripe.webhook_secret,
    )
    async with gateway:
        customer = await gateway.create_customer("p", "P", "p@x.test", idempotency_key="c:p")
        invoice = await gateway.create_invoice(
            customer, invoice_ref="r1", description="M", lines=[InvoiceLine("Fee", 900, {})]
        )
        fake_stripe.fail_next_payments(customer, 1)
        with pytest.raises(PaymentFailed):
            await gateway.pay_invoice(invoice.id, idempotency_key="pay:r1:1")
        await gateway.pay_invoice(invoice.id, idempotency_key="pay:r1:2")
        await fake_stripe.flush()

        events = [gateway.verify_webhook(body, header) for body, header in endpoint.received]

    assert [e["type"] for e in events] == [
        "invoice.finalized",
        "invoice.payment_failed",
        "invoice.paid",
    ]
    assert events[1]["data"]["object"]["attempt_count"] == 1
    assert events[2]["data"]["object"]["status"] == "paid"


async def test_failed_deliveries_are_retried(
    api: httpx.AsyncClient, fake_stripe: FakeStripe, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    endpoint.statuses = [500]
    fake_stripe.deliver_to(url)

    customer = (await api.post("/v1/customers", data={"name": "A"})).json()["id"]
    invoice = (await api.post("/v1/invoices", data={"customer": customer})).json()["id"]
    await api.post(f"/v1/invoices/{invoice}/finalize")  # zero total: finalized, then paid
    await fake_stripe.flush()

    assert [(d.type, d.status) for d in fake_stripe.deliveries] == [
        ("invoice.finalized", 500),
        ("invoice.finalized", 200),
        ("invoice.paid", 200),
    ]
    assert len(endpoint.received) == 3


async def test_checkout_page_saves_a_card_that_stops_declines(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = (await api.post("/v1/customers", data={"name": "A"})).json()["id"]
    fake_stripe.set_card_declines(customer, True)
    session = await api.post(
        "/v1/checkout/sessions",
        data={
            "mode": "setup",
            "customer": customer,
            "currency": "usd",
            "success_url": "http://apex.test/done?s={CHECKOUT_SESSION_ID}",
        },
    )
    session_id = session.json()["id"]

    page = await api.get(f"/checkout/{session_id}")
    saved = await api.post(f"/checkout/{session_id}")

    assert page.status_code == 200 and "Save" in page.text
    assert saved.status_code == 303
    assert saved.headers["Location"] == f"http://apex.test/done?s={session_id}"
    assert fake_stripe.customers[customer]["invoice_settings"]["default_payment_method"]
    invoice = (await api.post("/v1/invoices", data={"customer": customer})).json()["id"]
    await api.post("/v1/invoiceitems", data={"customer": customer, "invoice": invoice, "amount": 5})
    await api.post(f"/v1/invoices/{invoice}/finalize")
    paid = await api.post(f"/v1/invoices/{invoice}/pay")
    assert paid.json()["status"] == "paid"


COUPON = {
    "percent_off": "20",
    "duration": "repeating",
    "duration_in_months": "2",
    "name": "20% off for 2 months",
    "metadata[reason]": "at risk",
}


async def test_invalid_coupons_are_refused_in_stripe_shape(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    no_percent = await api.post("/v1/coupons", data={"duration": "once"})
    too_much = await api.post("/v1/coupons", data={"percent_off": "120"})
    no_months = await api.post("/v1/coupons", data={"percent_off": "20", "duration": "repeating"})
    months_once = await api.post(
        "/v1/coupons", data={"percent_off": "20", "duration": "once", "duration_in_months": "2"}
    )

    assert no_percent.status_code == 400
    assert no_percent.json()["error"] == {
        "type": "invalid_request_error",
        "message": "Missing required param: percent_off.",
        "code": "parameter_missing",
        "param": "percent_off",
    }
    assert too_much.json()["error"]["param"] == "percent_off"
    assert no_months.json()["error"]["code"] == "parameter_missing"
    assert months_once.json()["error"]["param"] == "duration_in_months"
    assert {r.status_code for r in (too_much, no_months, months_once)} == {400}
    assert fake_stripe.coupons == {}


async def test_coupon_creation_replays_under_its_idempotency_key(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    headers = {"Idempotency-Key": "discount:pub-1:2097-06-17:coupon"}
    first = await api.post("/v1/coupons", data=COUPON, headers=headers)
    again = await api.post("/v1/coupons", data=COUPON, headers=headers)
    other = await api.post("/v1/coupons", data={**COUPON, "percent_off": "30"}, headers=headers)

    coupon = first.json()
    assert coupon["id"].startswith("co_") and coupon["object"] == "coupon"
    assert (coupon["percent_off"], coupon["duration"], coupon["duration_in_months"]) == (
        20,
        "repeating",
        2,
    )
    assert coupon["metadata"] == {"reason": "at risk"}
    assert again.json() == coupon and again.headers["Idempotent-Replayed"] == "true"
    assert other.json()["error"]["type"] == "idempotency_error"
    assert list(fake_stripe.coupons) == [coupon["id"]]


async def test_customer_takes_a_coupon_but_refuses_discounts_as_stripe_does(
    api: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = (await api.post("/v1/customers", data={"name": "A"})).json()["id"]
    coupon = (await api.post("/v1/coupons", data=COUPON)).json()["id"]

    # What the SDK sends for params={"discounts": [{"coupon": ...}]}: not a customer parameter.
    listed = await api.post(f"/v1/customers/{customer}", data={"discounts[0][coupon]": coupon})
    unknown = await api.post(f"/v1/customers/{customer}", data={"coupon": "co_nope", "name": "B"})
    applied = await api.post(f"/v1/customers/{customer}", data={"coupon": coupon})

    assert listed.status_code == 400
    assert listed.json()["error"]["code"] == "parameter_unknown"
    assert unknown.json()["error"]["code"] == "resource_missing"
    assert fake_stripe.customers[customer]["name"] == "A"  # the refused update changed nothing
    discount = applied.json()["discount"]
    assert discount["object"] == "discount" and discount["customer"] == customer
    assert discount["coupon"]["id"] == coupon
    assert 59 * 86400 <= discount["end"] - discount["start"] <= 62 * 86400  # two months
    assert fake_stripe.coupons[coupon]["times_redeemed"] == 1
    removed = await api.post(f"/v1/customers/{customer}", data={"coupon": ""})
    assert removed.json()["discount"] is None
