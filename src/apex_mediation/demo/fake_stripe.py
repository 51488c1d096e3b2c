"""A local Stripe stand-in for the demo and the tests, spoken to through the official SDK.

It answers the slice of Stripe's REST API that billing and the growth engine's discount offers
use (customers, invoices, coupons, Checkout, the Billing Portal) the way Stripe does: form-encoded
bodies with nested keys, Bearer auth, idempotency keys (a replay returns the first answer, a reuse
with other parameters is refused), Stripe's object and error shapes, and webhooks signed with
Stripe's scheme, sent as invoices are finalized, paid or declined. It also serves the hosted
invoice, Checkout and Billing Portal pages, so the demo's links lead somewhere.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import hashlib
import hmac
import html
import json
import secrets
import string
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

Obj = dict[str, Any]
Handler = Callable[[web.Request, Obj], Obj]

API_VERSION = "2025-01-27.acacia"
DELIVERY_ATTEMPTS = 3  # Stripe retries for days; a few quick tries suit a demo and tests
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}
_ALNUM = string.ascii_letters + string.digits


class StripeErrorResponse(Exception):
    """An error answered in Stripe's shape: {"error": {"type", "message", "code", ...}}."""

    def __init__(self, status: int, type_: str, message: str, **fields: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, **fields}}


@dataclass(frozen=True)
class Delivery:
    event_id: str
    type: str
    status: int | None  # None: the endpoint could not be reached


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALNUM) for _ in range(24))


def parse_form(body: str) -> Obj:
    """`metadata[k]=v`, `lines[0][amount]=5`: nested dicts and lists, as Stripe reads them."""
    root: Obj = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head, *(rest[:-1].split("][") if rest else [])]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _invalid(f"Invalid value for {head}: both a value and a hash.", param=head)
            node = child
        node[parts[-1]] = value
    listed: Obj = _listify(root)
    return listed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature` header: HMAC-SHA256 over "<timestamp>.<payload>"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _object(prefix: str, kind: str, **fields: Any) -> Obj:
    """A new object with the fields every Stripe object has."""
    base = {"id": new_id(prefix), "object": kind, "created": int(time.time()), "livemode": False}
    return base | fields


def _invalid(message: str, *, status: int = 400, **fields: str | None) -> StripeErrorResponse:
    return StripeErrorResponse(status, "invalid_request_error", message, **fields)


def _required(params: Obj, name: str) -> Any:
    if name not in params:
        raise _invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return params[name]


def _int(params: Obj, name: str) -> int:
    value = _required(params, name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(
            f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        ) from None


def _percent(params: Obj) -> float:
    if "percent_off" not in params:  # amount_off coupons are not needed here
        raise _invalid(
            "Missing required param: percent_off.", code="parameter_missing", param="percent_off"
        )
    try:
        percent = float(params["percent_off"])
    except (TypeError, ValueError):
        raise _invalid(f"Invalid decimal: {params['percent_off']}", param="percent_off") from None
    if not 0 < percent <= 100:
        raise _invalid("percent_off must be greater than 0 and at most 100.", param="percent_off")
    return percent


def _add_months(timestamp: int, months: int) -> int:
    """The same day and time `months` later, clamped to the month's end, as Stripe counts."""
    at = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return int(at.replace(year=year, month=month, day=day).timestamp())


def _mask(key: str) -> str:
    return f"{key[:8]}{'*' * (len(key) - 12)}{key[-4:]}" if len(key) > 16 else "****"


class FakeStripe:
    """Stripe on a local port: `async with FakeStripe.running() as fake:` or start()/stop()."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.api_key = api_key or "sk_test_fake_" + secrets.token_hex(12)
        self.webhook_secret = webhook_secret or "whsec_" + secrets.token_hex(16)
        self.customers: dict[str, Obj] = {}
        self.invoices: dict[str, Obj] = {}
        self.invoice_items: dict[str, Obj] = {}
        self.coupons: dict[str, Obj] = {}
        self.sessions: dict[str, Obj] = {}  # Checkout and Billing Portal sessions
        self.requests: Counter[str] = Counter()  # "POST /v1/customers" -> count
        self.events: list[Obj] = []
        self.deliveries: list[Delivery] = []
        self._replays: dict[str, tuple[str, Obj, int, str]] = {}  # key -> route, params, answer
        self._declines: dict[str, tuple[int | None, str]] = {}  # customer -> (left, code)
        self._webhook_url: str | None = None
        self._outbox: asyncio.Queue[Obj] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    @asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator[FakeStripe]:
        fake = cls(**options)
        await fake.start()
        try:
            yield fake
        finally:
            await fake.stop()

    async def start(self) -> None:
        app = web.Application()
        api: list[tuple[str, str, Handler]] = [
            ("POST", "/v1/customers", self._create_customer),
            ("GET", "/v1/customers", self._list_customers),
            ("GET", "/v1/customers/{id}", self._get_customer),
            ("POST", "/v1/customers/{id}", self._update_customer),
            ("POST", "/v1/coupons", self._create_coupon),
            ("GET", "/v1/coupons/{id}", self._get_coupon),
            ("POST", "/v1/invoices", self._create_invoice),
            ("GET", "/v1/invoices/{id}", self._get_invoice),
            ("POST", "/v1/invoiceitems", self._create_invoice_item),
            ("POST", "/v1/invoices/{id}/finalize", self._finalize_invoice),
            ("POST", "/v1/invoices/{id}/pay", self._pay_invoice),
            ("POST", "/v1/checkout/sessions", self._create_checkout_session),
            ("POST", "/v1/billing_portal/sessions", self._create_portal_session),
        ]
        for method, path, handler in api:
            app.router.add_route(method, path, self._api(handler))
        app.router.add_get("/i/{id}", self._invoice_page)
        app.router.add_get("/checkout/{id}", self._checkout_page)
        app.router.add_post("/checkout/{id}", self._complete_checkout)
        app.router.add_get("/portal/{id}", self._portal_page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._worker = asyncio.create_task(self._deliver_events())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Controls for the tests and the demo.

    def fail_next_payments(
        self, customer_id: str, n: int = 1, decline_code: str = "generic_decline"
    ) -> None:
        """Decline the customer's next `n` payment attempts."""
        self._declines[customer_id] = (n, decline_code)

    def set_card_declines(
        self, customer_id: str, declines: bool, decline_code: str = "generic_decline"
    ) -> None:
        """Decline every payment until switched off (or a card is saved through Checkout)."""
        if declines:
            self._declines[customer_id] = (None, decline_code)
        else:
            self._declines.pop(customer_id, None)

    def deliver_to(self, url: str | None) -> None:
        """POST signed invoice and checkout events to `url` as they happen (None: stop)."""
        self._webhook_url = url

    def signed_event(
        self, type_: str, obj: Obj, *, timestamp: int | None = None
    ) -> tuple[bytes, str]:
        """A webhook body and its Stripe-Signature header, as Stripe would send them."""
        payload = json.dumps(self._event(type_, obj)).encode()
        return payload, sign(payload, self.webhook_secret, timestamp or int(time.time()))

    async def flush(self) -> None:
        """Wait until every queued webhook has been delivered (or given up on)."""
        await self._outbox.join()

    # The API: auth, idempotency and errors around small synchronous handlers.

    def _api(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            route = f"{request.method} {request.path}"
            self.requests[route] += 1
            try:
                self._authenticate(request)
                if request.method != "POST":
                    return _answer(200, json.dumps(handler(request, dict(request.query))))
                params = parse_form(await request.text())
                key = request.headers.get("Idempotency-Key")
                if key is None:
                    return _answer(200, json.dumps(handler(request, params)))
                return self._idempotent(key, route, params, lambda: handler(request, params))
            except StripeErrorResponse as exc:
                return _answer(exc.status, json.dumps(exc.body))

        return endpoint

    def _authenticate(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not given:
            raise _invalid(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth.",
                status=401,
            )
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise _invalid(f"Invalid API Key provided: {_mask(given)}", status=401)

    def _idempotent(
        self, key: str, route: str, params: Obj, run: Callable[[], Obj]
    ) -> web.Response:
        saved = self._replays.get(key)
        if saved is not None:
            saved_route, saved_params, status, body = saved
            if saved_route != route or saved_params != params:
                what = "endpoint" if saved_route != route else "parameters"
                raise StripeErrorResponse(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same {what} they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                )
            return _answer(status, body, replayed=True)
        try:
            status, body = 200, json.dumps(run())
        except StripeErrorResponse as exc:
            # Stripe keeps no result for requests refused before they ran; a decline ran.
            if exc.status != 402:
                raise
            status, body = exc.status, json.dumps(exc.body)
        self._replays[key] = (route, params, status, body)
        return _answer(status, body)

    def _find(self, table: dict[str, Obj], kind: str, object_id: str) -> Obj:
        found = table.get(object_id)
        if found is None:
            raise _invalid(
                f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param="id"
            )
        return found

    # Customers.

    def _create_customer(self, request: web.Request, p: Obj) -> Obj:
        customer = _object(
            "cus",
            "customer",
            **{k: p.get(k) for k in ("name", "email", "description")},
            metadata=dict(p.get("metadata") or {}),
            invoice_settings={"default_payment_method": None},
            discount=None,
        )
        self.customers[customer["id"]] = customer
        return customer

    def _list_customers(self, request: web.Request, p: Obj) -> Obj:
        found = [c for c in self.customers.values() if p.get("email", c["email"]) == c["email"]]
        limit = _int({"limit": p.get("limit", "10")}, "limit")
        data = found[::-1][:limit]  # newest first, as Stripe lists
        return {
            "object": "list",
            "url": "/v1/customers",
            "has_more": len(found) > limit,
            "data": data,
        }

    def _get_customer(self, request: web.Request, p: Obj) -> Obj:
        return self._find(self.customers, "customer", request.match_info["id"])

    def _update_customer(self, request: web.Request, p: Obj) -> Obj:
        customer = self._find(self.customers, "customer", request.match_info["id"])
        if "discounts" in p:
            # Customers take no `discounts` (subscriptions and invoices do), and no coupon at all
            # since 2025-03-31.basil: Stripe refuses this form, so the fake does too.
            raise _invalid(
                "Received unknown parameter: discounts", code="parameter_unknown", param="discounts"
            )
        # `coupon` is the pre-basil form, which this fake's API version takes; checked first so
        # that an unknown coupon changes nothing.
        discount = self._redeem(customer, p["coupon"]) if p.get("coupon") else None
        customer.update({k: p[k] for k in ("name", "email", "description") if k in p})
        for key, value in (p.get("metadata") or {}).items():
            if value == "":  # Stripe's way of deleting a metadata key
                customer["metadata"].pop(key, None)
            else:
                customer["metadata"][key] = value
        if "coupon" in p:  # an empty coupon removes the discount
            customer["discount"] = discount
        return customer

    # Coupons, and the discount a customer gets from one.

    def _create_coupon(self, request: web.Request, p: Obj) -> Obj:
        percent = _percent(p)
        duration = p.get("duration", "once")
        if duration not in ("once", "repeating", "forever"):
            raise _invalid(f"Invalid duration: {duration}", param="duration")
        months = _int(p, "duration_in_months") if duration == "repeating" else None
        if months is not None and months < 1:
            raise _invalid(
                "duration_in_months must be a positive integer.", param="duration_in_months"
            )
        if duration != "repeating" and "duration_in_months" in p:
            raise _invalid(
                "duration_in_months can only be set when duration is repeating.",
                param="duration_in_months",
            )
        coupon = _object(
            "co",
            "coupon",
            name=p.get("name"),
            percent_off=percent,
            amount_off=None,
            currency=None,
            duration=duration,
            duration_in_months=months,
            metadata=dict(p.get("metadata") or {}),
            max_redemptions=None,
            redeem_by=None,
            times_redeemed=0,
            valid=True,
        )
        if "id" in p:
            if p["id"] in self.coupons:
                raise _invalid("Coupon already exists.", code="resource_already_exists")
            coupon["id"] = p["id"]
        self.coupons[coupon["id"]] = coupon
        return coupon

    def _get_coupon(self, request: web.Request, p: Obj) -> Obj:
        return self._find(self.coupons, "coupon", request.match_info["id"])

    def _redeem(self, customer: Obj, coupon_id: str) -> Obj:
        coupon = self.coupons.get(coupon_id)
        if coupon is None:
            raise _invalid(
                f"No such coupon: '{coupon_id}'", code="resource_missing", param="coupon"
            )
        coupon["times_redeemed"] += 1
        start = int(time.time())
        months = coupon["duration_in_months"]
        return _object(
            "di",
            "discount",
            coupon=coupon,
            customer=customer["id"],
            start=start,
            end=_add_months(start, months) if months else None,
            **dict.fromkeys(("invoice", "invoice_item", "promotion_code", "subscription")),
            checkout_session=None,
        )

    # Invoices.

    def _create_invoice(self, request: web.Request, p: Obj) -> Obj:
        customer = self._find(self.customers, "customer", _required(p, "customer"))
        method = p.get("collection_method", "charge_automatically")
        invoice = _object(
            "in",
            "invoice",
            customer=customer["id"],
            status="draft",
            currency=p.get("currency", "usd"),
            description=p.get("description"),
            metadata=dict(p.get("metadata") or {}),
            collection_method=method,
            auto_advance=p.get("auto_advance") == "true",
            days_until_due=_int(p, "days_until_due") if method == "send_invoice" else None,
            **dict.fromkeys(("due_date", "number", "hosted_invoice_url", "invoice_pdf")),
            **dict.fromkeys(("amount_due", "amount_paid", "amount_remaining", "total"), 0),
            subtotal=0,
            attempt_count=0,
            attempted=False,
            status_transitions={"finalized_at": None, "paid_at": None},
        )
        lines_url = f"/v1/invoices/{invoice['id']}/lines"
        invoice["lines"] = {"object": "list", "url": lines_url, "has_more": False, "data": []}
        self.invoices[invoice["id"]] = invoice
        if p.get("pending_invoice_items_behavior") == "include":
            for item in self.invoice_items.values():
                if item["customer"] == customer["id"] and item["invoice"] is None:
                    _attach(invoice, item)
        return invoice

    def _get_invoice(self, request: web.Request, p: Obj) -> Obj:
        return self._find(self.invoices, "invoice", request.match_info["id"])

    def _create_invoice_item(self, request: web.Request, p: Obj) -> Obj:
        customer = self._find(self.customers, "customer", _required(p, "customer"))
        invoice = self._find(self.invoices, "invoice", p["invoice"]) if "invoice" in p else None
        if invoice is not None and invoice["customer"] != customer["id"]:
            raise _invalid("The invoice belongs to another customer.", param="invoice")
        if invoice is not None and invoice["status"] != "draft":
            raise _invalid(
                f"You can only add items to a draft invoice; {invoice['id']} is "
                f"{invoice['status']}.",
                code="invoice_not_editable",
                param="invoice",
            )
        item = _object(
            "ii",
            "invoiceitem",
            customer=customer["id"],
            amount=_int(p, "amount"),
            currency=p.get("currency", "usd"),
            description=p.get("description"),
            metadata=dict(p.get("metadata") or {}),
            invoice=None,
        )
        self.invoice_items[item["id"]] = item
        if invoice is not None:
            _attach(invoice, item)
        return item

    def _finalize_invoice(self, request: web.Request, p: Obj) -> Obj:
        invoice = self._find(self.invoices, "invoice", request.match_info["id"])
        if invoice["status"] != "draft":
            raise _invalid(
                "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                code="invoice_not_editable",
            )
        now = int(time.time())
        finalized = sum(1 for i in self.invoices.values() if i["number"] is not None)
        invoice.update(
            status="open",
            number=f"FAKE-{finalized + 1:04d}",
            hosted_invoice_url=f"{self.base_url}/i/{invoice['id']}",
        )
        invoice["status_transitions"]["finalized_at"] = now
        if invoice["days_until_due"] is not None:
            invoice["due_date"] = now + invoice["days_until_due"] * 86400
        self._emit("invoice.finalized", invoice)
        if invoice["amount_due"] == 0:  # Stripe closes a zero invoice as paid right away
            self._mark_paid(invoice)
        return invoice

    def _pay_invoice(self, request: web.Request, p: Obj) -> Obj:
        invoice = self._find(self.invoices, "invoice", request.match_info["id"])
        if invoice["status"] != "open":
            raise _invalid(
                f"Invoice {invoice['id']} is {invoice['status']}; only open invoices can be paid."
            )
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        decline_code = self._take_decline(invoice["customer"])
        if decline_code is not None:
            self._emit("invoice.payment_failed", invoice)
            raise StripeErrorResponse(
                402,
                "card_error",
                DECLINE_MESSAGES.get(decline_code, DECLINE_MESSAGES["generic_decline"]),
                code="card_declined",
                decline_code=decline_code,
            )
        self._mark_paid(invoice)
        return invoice

    def _take_decline(self, customer_id: str) -> str | None:
        left, code = self._declines.get(customer_id, (0, ""))
        if left is None:
            return code
        if left <= 0:
            return None
        self._declines[customer_id] = (left - 1, code)
        return code

    def _mark_paid(self, invoice: Obj) -> None:
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = int(time.time())
        self._emit("invoice.paid", invoice)

    # Checkout and the Billing Portal.

    def _create_checkout_session(self, request: web.Request, p: Obj) -> Obj:
        customer = self._find(self.customers, "customer", _required(p, "customer"))
        if _required(p, "mode") == "setup" and not ("currency" in p or "payment_method_types" in p):
            raise _invalid("currency is required in setup mode without payment_method_types.")
        session = _object(
            "cs_test",
            "checkout.session",
            mode=p["mode"],
            customer=customer["id"],
            currency=p.get("currency"),
            success_url=_required(p, "success_url"),
            cancel_url=p.get("cancel_url"),
            status="open",
            expires_at=int(time.time()) + 86400,
        )
        return self._with_page(session, "checkout")

    def _create_portal_session(self, request: web.Request, p: Obj) -> Obj:
        customer = self._find(self.customers, "customer", _required(p, "customer"))
        session = _object(
            "bps", "billing_portal.session", customer=customer["id"], return_url=p.get("return_url")
        )
        return self._with_page(session, "portal")

    def _with_page(self, session: Obj, page: str) -> Obj:
        session["url"] = f"{self.base_url}/{page}/{session['id']}"
        self.sessions[session["id"]] = session
        return session

    # Webhooks: queued in order and delivered one at a time, with a few retries.

    def _event(self, type_: str, obj: Obj) -> Obj:
        return _object(
            "evt",
            "event",
            type=type_,
            api_version=API_VERSION,
            pending_webhooks=1,
            request={"id": None, "idempotency_key": None},
            data={"object": json.loads(json.dumps(obj))},  # a snapshot, as Stripe sends
        )

    def _emit(self, type_: str, obj: Obj) -> None:
        event = self._event(type_, obj)
        self.events.append(event)
        if self._webhook_url is not None:
            self._outbox.put_nowait(event)

    async def _deliver_events(self) -> None:
        while True:
            event = await self._outbox.get()
            try:
                await self._deliver(event)
            finally:
                self._outbox.task_done()

    async def _deliver(self, event: Obj) -> None:
        assert self._client is not None
        payload = json.dumps(event).encode()
        for attempt in range(DELIVERY_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.2 * 2**attempt)
            url = self._webhook_url
            if url is None:
                return
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": sign(payload, self.webhook_secret, int(time.time())),
            }
            status: int | None = None
            try:
                async with self._client.post(url, data=payload, headers=headers) as response:
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.deliveries.append(Delivery(event["id"], event["type"], status))
            if status is not None and status < 300:
                return

    # Hosted pages, bare but working.

    async def _invoice_page(self, request: web.Request) -> web.Response:
        invoice = self.invoices.get(request.match_info["id"])
        if invoice is None:
            raise web.HTTPNotFound()
        rows = "".join(
            f"<li>{html.escape(line['description'] or '')}: {line['amount'] / 100:.2f}</li>"
            for line in invoice["lines"]["data"]
        )
        return _page(
            f"Invoice {invoice['number']}",
            f"<ul>{rows}</ul><p>Amount due: {invoice['amount_due'] / 100:.2f} "
            f"{invoice['currency'].upper()} — {invoice['status']}</p>",
        )

    async def _checkout_page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None or session["object"] != "checkout.session":
            raise web.HTTPNotFound()
        cancel = html.escape(session["cancel_url"] or "/")
        return _page(
            "Save a card",
            f'<form method="post"><button>Save test card 4242</button></form>'
            f'<a href="{cancel}">Cancel</a>',
        )

    async def _complete_checkout(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None or session["object"] != "checkout.session":
            raise web.HTTPNotFound()
        customer = self.customers[session["customer"]]
        customer["invoice_settings"]["default_payment_method"] = new_id("pm")
        self._declines.pop(customer["id"], None)  # the new card works
        session["status"] = "complete"
        self._emit("checkout.session.completed", session)
        success = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        raise web.HTTPSeeOther(success)

    async def _portal_page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None or session["object"] != "billing_portal.session":
            raise web.HTTPNotFound()
        rows = "".join(
            f'<li><a href="/i/{i["id"]}">{i["number"]}</a> {i["status"]}</li>'
            for i in self.invoices.values()
            if i["customer"] == session["customer"] and i["number"] is not None
        )
        back = html.escape(session["return_url"] or "/")
        return _page("Billing", f'<ul>{rows}</ul><a href="{back}">Return</a>')


def _attach(invoice: Obj, item: Obj) -> None:
    item["invoice"] = invoice["id"]
    lines = invoice["lines"]
    line = _object("il", "line_item", invoice=invoice["id"])
    line |= {k: item[k] for k in ("amount", "currency", "description", "metadata")}
    lines["data"].append(line)
    total = sum(line["amount"] for line in lines["data"])
    due = max(total, 0)
    invoice.update(subtotal=total, total=total, amount_due=due, amount_remaining=due)


def _answer(status: int, body: str, *, replayed: bool = False) -> web.Response:
    headers = {"Request-Id": new_id("req")}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1>{body}<p><small>Fake Stripe (demo)</small></p>",
        content_type="text/html",
    )
