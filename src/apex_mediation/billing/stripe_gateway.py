"""Stripe through the official SDK: customers, invoices, payments, discounts, hosted links,
webhook checks.

Every write carries an idempotency key derived from our own ids, so the SDK's network retries and
our own later retries replay Stripe's first answer instead of creating a second object or charge.
Results come back as small frozen dataclasses; SDK objects and errors stay inside this module.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeGuard, TypeVar, cast

import aiohttp
import stripe
from stripe.params import CustomerCreateParams, CustomerUpdateParams, InvoiceCreateParams

from apex_mediation.settings import Settings

T = TypeVar("T")

TIMEOUT_S = 10.0
# Safe because every write is idempotent; the SDK also retries 409 and 5xx answers.
MAX_NETWORK_RETRIES = 2
WEBHOOK_TOLERANCE_S = 300
# Since 2025-03-31.basil a customer takes no coupon (nor `discounts`: only subscriptions and
# invoices do), yet its discount still carries into every invoice made for it. The last version
# before basil still sets it, so that one request is pinned to it.
CUSTOMER_COUPON_API_VERSION = "2025-02-24.acacia"


class StripeGatewayError(Exception):
    """Base of the errors this module raises; messages never hold the secret key."""


class StripeUnavailable(StripeGatewayError):
    """Stripe could not be reached or failed on its side: retry later with the same keys."""


class StripeRejected(StripeGatewayError):
    """Stripe refused the request (bad parameters, auth, idempotency conflict): do not retry."""

    def __init__(self, message: str, *, status: int | None, code: str | None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class PaymentFailed(StripeGatewayError):
    """The card was declined; `message` is Stripe's text, fit to show the publisher."""

    def __init__(self, message: str, *, code: str | None, decline_code: str | None) -> None:
        super().__init__(message)
        self.message, self.code, self.decline_code = message, code, decline_code


class WebhookSignatureInvalid(StripeGatewayError):
    """A webhook whose signature, timestamp or body does not check out: answer 400."""


@dataclass(frozen=True, slots=True)
class StripeInvoice:
    id: str
    status: str
    hosted_invoice_url: str | None
    amount_due: int  # cents


class InvoiceLine(NamedTuple):
    description: str
    amount_cents: int
    metadata: Mapping[str, str]


class StripeGateway:
    """The only path to Stripe. Use as an async context manager or call `aclose()`."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str = "https://api.stripe.com",
        webhook_secret: str | None = None,
        timeout_s: float = TIMEOUT_S,
        max_network_retries: int = MAX_NETWORK_RETRIES,
    ) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        # aiohttp rather than the SDK's HTTPXClient: that one hands httpx the body as `data=`,
        # which httpx deprecates with a warning on every request.
        self._http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout_s))
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway | None:
        """The gateway, or None when no secret key is configured (invoices stay local)."""
        if settings.stripe_secret_key is None:
            return None
        webhook = settings.stripe_webhook_secret
        return cls(
            settings.stripe_secret_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            webhook_secret=webhook.get_secret_value() if webhook is not None else None,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # SDK leaves it bare

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def create_customer(
        self, publisher_id: str, name: str, email: str, *, idempotency_key: str
    ) -> str:
        """Create the publisher's Stripe customer; returns its id (cus_...). An empty email is
        left unset rather than sent, which Stripe would read as "clear it"."""
        params: CustomerCreateParams = {"name": name, "metadata": {"publisher_id": publisher_id}}
        if email:
            params["email"] = email
        customer = await self._call(
            "create customer",
            self._client.v1.customers.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return customer.id

    async def offer_discount(
        self,
        customer_id: str,
        *,
        percent_off: int,
        months: int,
        reason: str,
        idempotency_key: str,
    ) -> str:
        """Create a coupon of `percent_off` for `months` monthly invoices and give it to the
        customer; returns the coupon's id. Keys are `<key>:coupon` and `<key>:apply`, so a retry
        after a partial failure applies the coupon already made instead of making another."""
        coupon = await self._call(
            "create coupon",
            self._client.v1.coupons.create_async(
                params={
                    "percent_off": percent_off,
                    "duration": "repeating",
                    "duration_in_months": months,
                    "name": f"{percent_off}% off for {months} months",
                    "metadata": {"reason": reason[:500]},  # Stripe's limit for a value
                },
                options={"idempotency_key": f"{idempotency_key}:coupon"},
            ),
        )
        # `coupon` is not in the SDK's (basil and later) parameter types, hence the cast.
        params = cast(CustomerUpdateParams, {"coupon": coupon.id})
        await self._call(
            "apply coupon",
            self._client.v1.customers.update_async(
                customer_id,
                params=params,
                options={
                    "idempotency_key": f"{idempotency_key}:apply",
                    "stripe_version": CUSTOMER_COUPON_API_VERSION,
                },
            ),
        )
        return coupon.id

    async def create_invoice(
        self,
        customer_id: str,
        *,
        invoice_ref: str,
        description: str,
        lines: Sequence[tuple[str, int, Mapping[str, str]]],
        currency: str = "usd",
        days_until_due: int | None = None,
        idempotency_key_prefix: str | None = None,
    ) -> StripeInvoice:
        """Create, fill and finalize an invoice; returns it open (or paid when it totals zero).

        `days_until_due` None charges the saved payment method (`pay_invoice`); a number sends
        the invoice to be paid on the hosted page by then. A zero total is still created and
        finalized so the publisher has the record; Stripe marks such an invoice paid on
        finalization. Keys are `<prefix>:create`, `<prefix>:item:<n>` and `<prefix>:finalize`,
        the prefix defaulting to `invoice:<invoice_ref>`, so a retry after a partial failure
        resumes on the same draft instead of starting another.
        """
        prefix = idempotency_key_prefix or f"invoice:{invoice_ref}"
        params: InvoiceCreateParams = {
            "customer": customer_id,
            "currency": currency,
            "description": description,
            "metadata": {"invoice_ref": invoice_ref},
            "auto_advance": False,  # we finalize and charge on our own schedule
            "pending_invoice_items_behavior": "exclude",
        }
        if days_until_due is None:
            params["collection_method"] = "charge_automatically"
        else:
            params["collection_method"] = "send_invoice"
            params["days_until_due"] = days_until_due
        invoices = self._client.v1.invoices
        draft = await self._call(
            "create invoice",
            invoices.create_async(params=params, options={"idempotency_key": f"{prefix}:create"}),
        )
        for position, (line_description, amount_cents, metadata) in enumerate(lines):
            await self._call(
                "add invoice item",
                self._client.v1.invoice_items.create_async(
                    params={
                        "customer": customer_id,
                        "invoice": draft.id,
                        "amount": amount_cents,
                        "currency": currency,
                        "description": line_description,
                        "metadata": {**metadata, "invoice_ref": invoice_ref},
                    },
                    options={"idempotency_key": f"{prefix}:item:{position}"},
                ),
            )
        final = await self._call(
            "finalize invoice",
            invoices.finalize_invoice_async(
                draft.id, options={"idempotency_key": f"{prefix}:finalize"}
            ),
        )
        return _invoice(final)

    async def get_invoice(self, stripe_invoice_id: str) -> StripeInvoice:
        return _invoice(
            await self._call(
                "retrieve invoice", self._client.v1.invoices.retrieve_async(stripe_invoice_id)
            )
        )

    async def pay_invoice(self, stripe_invoice_id: str, *, idempotency_key: str) -> StripeInvoice:
        """Charge the customer's saved payment method; raises PaymentFailed on a decline."""
        paid = await self._call(
            "pay invoice",
            self._client.v1.invoices.pay_async(
                stripe_invoice_id, options={"idempotency_key": idempotency_key}
            ),
        )
        return _invoice(paid)

    async def checkout_setup_link(
        self, customer_id: str, *, success_url: str, cancel_url: str, currency: str = "usd"
    ) -> str:
        """A Checkout page (mode=setup) where the publisher saves a payment method."""
        session = await self._call(
            "create checkout session",
            self._client.v1.checkout.sessions.create_async(
                params={
                    "mode": "setup",
                    "customer": customer_id,
                    "currency": currency,  # required in setup mode without payment_method_types
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                }
            ),
        )
        if session.url is None:
            raise StripeRejected(
                "Stripe returned a checkout session without a url", status=None, code=None
            )
        return session.url

    async def portal_link(self, customer_id: str, *, return_url: str) -> str:
        """A Billing Portal page: payment methods, invoices and receipts."""
        session = await self._call(
            "create billing portal session",
            self._client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url}
            ),
        )
        return session.url

    def verify_webhook(
        self, payload: bytes, signature_header: str, *, tolerance_s: int = WEBHOOK_TOLERANCE_S
    ) -> dict[str, Any]:
        """The event (id, type, created, data.object) after checking Stripe's signature."""
        if not self._webhook_secret:
            raise WebhookSignatureInvalid("no Stripe webhook secret is configured")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, self._webhook_secret, tolerance_s
            )
            event = json.loads(payload)
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureInvalid(f"Stripe webhook rejected: {exc.user_message}") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WebhookSignatureInvalid("Stripe webhook body is not JSON") from None
        if not _is_event(event):
            raise WebhookSignatureInvalid("Stripe webhook body is not an event")
        return event

    async def _call(self, what: str, request: Awaitable[T]) -> T:
        """Await one SDK call, turning its errors into ours with the key scrubbed out.

        The SDK error is not chained: it carries the raw response, which callers log.
        """
        try:
            return await request
        except stripe.CardError as exc:
            error = exc.error
            raise PaymentFailed(
                self._scrub(exc.user_message or "The card was declined."),
                code=exc.code,
                decline_code=error.decline_code if error is not None else None,
            ) from None
        except stripe.StripeError as exc:
            status = exc.http_status
            message = self._scrub(
                f"Stripe {what} failed ({type(exc).__name__}, HTTP {status}): "
                f"{exc.user_message or 'no message'}"
            )
            retryable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError)
            if retryable or status is None or status >= 500:
                raise StripeUnavailable(message) from None
            raise StripeRejected(message, status=status, code=exc.code) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret_key, "****")


def _invoice(obj: stripe.Invoice) -> StripeInvoice:
    return StripeInvoice(
        id=obj.id,
        status=obj.status or "draft",
        hosted_invoice_url=obj.hosted_invoice_url,
        amount_due=obj.amount_due,
    )


def _is_event(event: Any) -> TypeGuard[dict[str, Any]]:
    if not isinstance(event, dict):
        return False
    data = event.get("data")
    return (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    )
