"""Monthly invoices: the month's usage, the trial's days taken out, the fee per band, one
invoice line per band that holds revenue; then the same invoice in Stripe.

Issuing is idempotent (one invoice per publisher and month, unique in the schema) and split in
two steps so that no transaction waits on Stripe: the invoice is stored as a draft first, then
pushed with idempotency keys derived from its id, so a push retried after a crash or a timeout
finds the objects the first attempt created instead of making new ones.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.identity import Actor
from apex_mediation.billing import metrics, plans
from apex_mediation.billing.fees import BandFee, Schedule, cents_of_lines, parse_bands
from apex_mediation.billing.money import format_cents, format_rate_ppm
from apex_mediation.billing.stripe_gateway import PaymentFailed, StripeGateway
from apex_mediation.billing.usage import DayUsage, stored_days
from apex_mediation.db.models import BillingAccount, Invoice, InvoiceLine, Publisher
from apex_mediation.settings import Settings

PAYMENT_TERMS = dt.timedelta(days=7)


@dataclass(frozen=True)
class FeeBreakdown:
    """A period's fee: what was mediated, what the trial made free, and the fee per band."""

    start: dt.date
    end: dt.date  # exclusive
    revenue_micros: int
    trial_revenue_micros: int
    parts: tuple[BandFee, ...]
    cents: tuple[int, ...]  # each band's fee in cents; they add up to total_cents

    @property
    def billable_micros(self) -> int:
        return self.revenue_micros - self.trial_revenue_micros

    @property
    def fee_micros(self) -> int:
        return sum(part.fee_micros for part in self.parts)

    @property
    def total_cents(self) -> int:
        return sum(self.cents)


def month_of(day: dt.date) -> tuple[dt.date, dt.date]:
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def schedule_for(settings: Settings, account: BillingAccount | None) -> Schedule:
    schedule = parse_bands(settings.fee_bands)
    return schedule.with_top_rate(account.enterprise_rate_ppm if account else None)


def breakdown(
    days: list[DayUsage],
    account: BillingAccount | None,
    schedule: Schedule,
    start: dt.date,
    end: dt.date,
) -> FeeBreakdown:
    revenue = sum(day.revenue_micros for day in days)
    trial = sum(
        day.revenue_micros
        for day in days
        if account is not None and plans.is_trial_day(account, day.day)
    )
    parts = schedule.split(revenue - trial)
    cents = cents_of_lines([part.fee_micros for part in parts])
    return FeeBreakdown(start, end, revenue, trial, parts, tuple(cents))


def invoice_number(publisher_id: uuid.UUID, start: dt.date) -> str:
    return f"APX-{start:%Y%m}-{publisher_id.hex[:12].upper()}"


async def issue(
    session: AsyncSession,
    settings: Settings,
    publisher_id: uuid.UUID,
    start: dt.date,
    now: dt.datetime,
) -> tuple[Invoice, bool]:
    """The invoice for the month starting at `start`, created from the stored daily usage if it
    does not exist yet; returns it and whether it was created now."""
    start, end = month_of(start)
    existing = await session.scalar(
        select(Invoice).where(Invoice.publisher_id == publisher_id, Invoice.period_start == start)
    )
    if existing is not None:
        return existing, False
    account = await plans.get_account(session, publisher_id)
    fee = breakdown(
        await stored_days(session, publisher_id, start, end),
        account,
        schedule_for(settings, account),
        start,
        end,
    )
    invoice = Invoice(
        id=uuid.uuid4(),
        publisher_id=publisher_id,
        number=invoice_number(publisher_id, start),
        period_start=start,
        period_end=end,
        # Nothing to charge: settled at once (the publisher still gets the document).
        status="paid" if fee.total_cents == 0 else "draft",
        revenue_micros=fee.revenue_micros,
        trial_revenue_micros=fee.trial_revenue_micros,
        fee_micros=fee.fee_micros,
        total_cents=fee.total_cents,
        created_at=now,
        paid_at=now if fee.total_cents == 0 else None,
    )
    session.add(invoice)
    await session.flush()
    for position, (part, cents) in enumerate(zip(fee.parts, fee.cents, strict=True)):
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                band=part.band.name,
                lower_micros=part.band.lower_micros,
                upper_micros=part.band.upper_micros,
                rate_ppm=part.band.rate_ppm,
                revenue_micros=part.revenue_micros,
                fee_micros=part.fee_micros,
                amount_cents=cents,
            )
        )
    await audit.record(
        session,
        Actor.system(publisher_id),
        "billing.invoice_created",
        "invoice",
        invoice.id,
        publisher_id=publisher_id,
        after={
            "number": invoice.number,
            "period": start.isoformat(),
            "revenue_micros": fee.revenue_micros,
            "total_cents": fee.total_cents,
        },
    )
    return invoice, True


async def lines_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
    )


def _line_description(line: InvoiceLine) -> str:
    return f"Platform fee, {line.band} band at {format_rate_ppm(line.rate_ppm)}"


async def push(
    session: AsyncSession, gateway: StripeGateway, invoice: Invoice, now: dt.datetime
) -> None:
    """Send a draft invoice to Stripe (finalised there), then try to collect it.

    The caller commits the draft before calling this, and commits after: a failure on the way
    leaves a draft that the next billing cycle pushes again with the same idempotency keys."""
    if invoice.status != "draft":
        return
    publisher = await session.get(Publisher, invoice.publisher_id)
    if publisher is None or publisher.stripe_customer_id is None:
        return  # the customer is created first (ensure_customer); the next cycle retries
    lines = await lines_of(session, invoice.id)
    specs = [
        (
            _line_description(line),
            line.amount_cents,
            {"band": line.band, "revenue_micros": str(line.revenue_micros)},
        )
        for line in lines
        if line.amount_cents > 0
    ]
    created = await gateway.create_invoice(
        publisher.stripe_customer_id,
        invoice_ref=str(invoice.id),
        description=f"Apex Mediation platform fee, {invoice.period_start:%B %Y} "
        f"({format_cents(invoice.total_cents)})",
        lines=specs,
        idempotency_key_prefix=f"invoice:{invoice.id}",
    )
    invoice.stripe_invoice_id = created.id
    invoice.hosted_invoice_url = created.hosted_invoice_url
    invoice.status = "open"
    invoice.finalized_at = now
    invoice.due_at = now + PAYMENT_TERMS
    await session.flush()


async def collect(
    session: AsyncSession, gateway: StripeGateway, invoice: Invoice, attempt: int, now: dt.datetime
) -> str | None:
    """Charge an open invoice's payment method; returns None when paid, else the decline.

    Stripe also reports the outcome by webhook; both paths converge on `mark_paid` and on
    dunning's start, each idempotent."""
    if invoice.status != "open" or invoice.stripe_invoice_id is None:
        return None
    try:
        paid = await gateway.pay_invoice(
            invoice.stripe_invoice_id, idempotency_key=f"pay:{invoice.id}:{attempt}"
        )
    except PaymentFailed as exc:
        return str(exc) or "the payment was declined"
    await mark_paid(session, invoice, paid.amount_due, now)
    return None


async def mark_paid(
    session: AsyncSession, invoice: Invoice, amount_paid_cents: int, now: dt.datetime
) -> bool:
    """Record a payment; True only the first time (replays and the webhook after a synchronous
    payment change nothing)."""
    if invoice.status == "paid":
        return False
    invoice.status = "paid"
    invoice.paid_at = now
    invoice.amount_paid_cents = amount_paid_cents
    await session.flush()
    if invoice.stripe_invoice_id is not None:
        metrics.paid_invoice(amount_paid_cents)
    await audit.record(
        session,
        Actor.system(invoice.publisher_id),
        "billing.invoice_paid",
        "invoice",
        invoice.id,
        publisher_id=invoice.publisher_id,
        after={"number": invoice.number, "amount_paid_cents": amount_paid_cents},
    )
    return True


async def ensure_customer(
    session: AsyncSession, gateway: StripeGateway, publisher: Publisher
) -> str:
    """The publisher's Stripe customer, created once (the idempotency key is the publisher's
    id, so a retry after a lost answer finds the same customer)."""
    if publisher.stripe_customer_id:
        return publisher.stripe_customer_id
    account = await plans.get_account(session, publisher.id)
    customer_id = await gateway.create_customer(
        str(publisher.id),
        publisher.name,
        account.billing_email if account and account.billing_email else "",
        idempotency_key=f"customer:{publisher.id}",
    )
    publisher.stripe_customer_id = customer_id
    await session.flush()
    await audit.record(
        session,
        Actor.system(publisher.id),
        "billing.customer_created",
        "publisher",
        publisher.id,
        publisher_id=publisher.id,
        after={"stripe_customer_id": customer_id},
    )
    return customer_id
