"""Stripe webhooks: verified, applied once, safe in any order.

Each event is stored under its unique id in the same transaction that applies it, so a replay
finds the row and changes nothing, and a failure rolls both back for Stripe to redeliver.
Order: Stripe does not promise it, so every change is guarded by the state it moves from —
a paid invoice stays paid whatever arrives after, and account-level facts (subscription
status) apply only when newer than the last event applied to the account.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.identity import Actor
from apex_mediation.billing import dunning, invoicing, plans
from apex_mediation.db.models import Invoice, Publisher, StripeWebhookEvent
from apex_mediation.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    event_id: str
    event_type: str
    duplicate: bool
    applied: bool  # False: recorded but nothing to change (unknown type, stale, unknown object)


@dataclass(frozen=True)
class _Incoming:
    """What every handler receives: the transaction, the event's object and its times."""

    session: AsyncSession
    settings: Settings
    obj: dict[str, Any]
    created: dt.datetime
    now: dt.datetime


def _created(event: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(event.get("created") or 0), dt.UTC)


async def receive(
    session: AsyncSession, settings: Settings, event: dict[str, Any], now: dt.datetime
) -> Outcome:
    """Record and apply one verified event in the caller's transaction."""
    event_id = str(event["id"])
    event_type = str(event.get("type", ""))
    inserted = await session.scalar(
        insert(StripeWebhookEvent)
        .values(
            event_id=event_id,
            event_type=event_type,
            stripe_created_at=_created(event),
            payload=event,
        )
        .on_conflict_do_nothing(index_elements=[StripeWebhookEvent.event_id])
        .returning(StripeWebhookEvent.event_id)
    )
    if inserted is None:
        return Outcome(event_id, event_type, duplicate=True, applied=False)
    handler = _HANDLERS.get(event_type)
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    incoming = _Incoming(session, settings, obj, _created(event), now)
    applied = bool(handler and await handler(incoming))
    row = await session.get(StripeWebhookEvent, event_id)
    assert row is not None
    row.processed_at = now
    return Outcome(event_id, event_type, duplicate=False, applied=applied)


async def _invoice_of(session: AsyncSession, obj: dict[str, Any]) -> Invoice | None:
    """Our invoice for a Stripe invoice: by its id, else by our reference in its metadata (the
    event may arrive before our own write of the Stripe id commits)."""
    stripe_id = obj.get("id")
    if stripe_id:
        found = await session.scalar(
            select(Invoice).where(Invoice.stripe_invoice_id == stripe_id).with_for_update()
        )
        if found is not None:
            return found
    ref = (obj.get("metadata") or {}).get("invoice_ref")
    try:
        invoice_id = uuid.UUID(str(ref))
    except ValueError:
        return None
    found = await session.get(Invoice, invoice_id, with_for_update=True)
    if found is not None and found.stripe_invoice_id is None and stripe_id:
        found.stripe_invoice_id = str(stripe_id)
    return found


def _newer(seen: dt.datetime | None, created: dt.datetime) -> bool:
    return seen is None or created >= seen


async def _invoice_finalized(e: _Incoming) -> bool:
    invoice = await _invoice_of(e.session, e.obj)
    if invoice is None or invoice.status != "draft":
        return False  # already open (our own push) or beyond: nothing moves backwards
    invoice.status = "open"
    invoice.finalized_at = invoice.finalized_at or e.now
    invoice.hosted_invoice_url = e.obj.get("hosted_invoice_url") or invoice.hosted_invoice_url
    invoice.stripe_event_at = e.created
    return True


async def _invoice_paid(e: _Incoming) -> bool:
    invoice = await _invoice_of(e.session, e.obj)
    if invoice is None or invoice.status in ("paid", "void"):
        return False
    amount = int(e.obj.get("amount_paid") or invoice.total_cents)
    await invoicing.mark_paid(e.session, invoice, amount, e.now)
    invoice.stripe_event_at = e.created
    await dunning.recover(e.session, e.settings, invoice, e.now)
    return True


async def _invoice_payment_failed(e: _Incoming) -> bool:
    invoice = await _invoice_of(e.session, e.obj)
    if invoice is None or invoice.status in ("paid", "void"):
        return False  # a failure reported after the payment succeeded changes nothing
    case = await dunning.open_case(e.session, e.settings, invoice, "the payment failed", e.now)
    invoice.stripe_event_at = e.created
    return case is not None


async def _invoice_closed(e: _Incoming) -> bool:
    """invoice.voided / invoice.marked_uncollectible: the operator closed it in Stripe."""
    invoice = await _invoice_of(e.session, e.obj)
    status = "void" if e.obj.get("status") == "void" else "uncollectible"
    if invoice is None or invoice.status == "paid":
        return False
    invoice.status = status
    invoice.stripe_event_at = e.created
    await dunning.recover(e.session, e.settings, invoice, e.now)
    return True


async def _publisher_of(session: AsyncSession, customer: object) -> Publisher | None:
    if not customer:
        return None
    found: Publisher | None = await session.scalar(
        select(Publisher).where(Publisher.stripe_customer_id == str(customer))
    )
    return found


async def _subscription(e: _Incoming) -> bool:
    publisher = await _publisher_of(e.session, e.obj.get("customer"))
    if publisher is None:
        return False
    account = await plans.get_account(e.session, publisher.id)
    if account is None or not _newer(account.stripe_event_at, e.created):
        return False  # an older state arriving late
    status = str(e.obj.get("status") or "")
    before = account.stripe_subscription_status
    account.stripe_subscription_status = status
    account.stripe_event_at = e.created
    publisher.stripe_subscription_id = str(e.obj.get("id") or publisher.stripe_subscription_id)
    if status == "canceled" and account.status in ("active", "trialing"):
        account.status = "canceled"
    await audit.record(
        e.session,
        Actor.system(publisher.id),
        "billing.subscription_changed",
        "publisher",
        publisher.id,
        publisher_id=publisher.id,
        before={"subscription_status": before},
        after={"subscription_status": status},
    )
    return True


async def _payment_method_added(e: _Incoming) -> bool:
    """checkout.session.completed (setup mode) or payment_method.attached."""
    if e.obj.get("object") == "checkout.session" and e.obj.get("mode") != "setup":
        return False
    publisher = await _publisher_of(e.session, e.obj.get("customer"))
    account = await plans.get_account(e.session, publisher.id) if publisher else None
    if publisher is None or account is None or account.has_payment_method:
        return False
    account.has_payment_method = True
    await audit.record(
        e.session,
        Actor.system(publisher.id),
        "billing.payment_method_added",
        "publisher",
        publisher.id,
        publisher_id=publisher.id,
    )
    return True


_HANDLERS = {
    "invoice.finalized": _invoice_finalized,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "invoice.voided": _invoice_closed,
    "invoice.marked_uncollectible": _invoice_closed,
    "customer.subscription.created": _subscription,
    "customer.subscription.updated": _subscription,
    "customer.subscription.deleted": _subscription,
    "checkout.session.completed": _payment_method_added,
    "payment_method.attached": _payment_method_added,
}
