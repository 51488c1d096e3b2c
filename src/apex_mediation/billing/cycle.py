"""The billing cycle: every step of billing that time drives, idempotent, run every few minutes
by the serving process (or a worker) and by hand with `apex billing run`.

Steps: end trials; give new publishers a Stripe customer; record yesterday's and today's usage;
after a month ends, issue its invoices, push them to Stripe and collect them; advance dunning;
refresh the metrics. A session-level advisory lock keeps two processes from running a cycle at
once; each publisher's invoice is its own transaction, so one failure holds up no one else.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select

from apex_mediation.background import Periodic
from apex_mediation.billing import dunning, invoicing, metrics, plans
from apex_mediation.billing.money import format_cents, format_micros_as_dollars
from apex_mediation.billing.stripe_gateway import StripeGateway, StripeGatewayError
from apex_mediation.billing.usage import record_range
from apex_mediation.db.models import BillingAccount, Invoice, Publisher
from apex_mediation.notify import outbox
from apex_mediation.services import Services

log = logging.getLogger(__name__)

_LOCK_KEY = 0x41504558_42494C4C & 0x7FFFFFFFFFFFFFFF  # "APEXBILL"
CYCLE_INTERVAL_S = 300.0
_CUSTOMERS_PER_CYCLE = 200


@dataclass
class CycleReport:
    ran: bool = True
    trials_ended: int = 0
    customers_created: int = 0
    usage_days: int = 0
    invoices_issued: int = 0
    invoices_pushed: int = 0
    payments_failed: int = 0
    dunning: dunning.Progress = field(default_factory=dunning.Progress)
    errors: list[str] = field(default_factory=list)


async def run(
    services: Services, gateway: StripeGateway | None, now: dt.datetime | None = None
) -> CycleReport:
    now = now or dt.datetime.now(dt.UTC)
    async with services.postgres.engine.connect() as lock:
        if not await lock.scalar(select(func.pg_try_advisory_lock(_LOCK_KEY))):
            return CycleReport(ran=False)
        try:
            return await _run(services, gateway, now)
        finally:
            await lock.scalar(select(func.pg_advisory_unlock(_LOCK_KEY)))


async def _run(services: Services, gateway: StripeGateway | None, now: dt.datetime) -> CycleReport:
    report = CycleReport()
    postgres = services.postgres
    async with postgres.session() as session:
        report.trials_ended = await plans.end_trials(session, now)
        await session.commit()
    if gateway is not None:
        report.customers_created = await _ensure_customers(services, gateway, report)
    today = now.date()
    async with postgres.session() as session:
        ids = list(await session.scalars(select(Publisher.id).order_by(Publisher.id)))
        for publisher_id in ids:
            days = await record_range(
                session,
                services.analytics,
                services.cache,
                publisher_id,
                today - dt.timedelta(days=1),
                today + dt.timedelta(days=1),
            )
            report.usage_days += len(days)
        await session.commit()
    previous_month, _ = invoicing.month_of(today.replace(day=1) - dt.timedelta(days=1))
    await issue_month(services, gateway, previous_month, now, report)
    if gateway is not None:
        await push_open_drafts(services, gateway, now, report)
    async with postgres.session() as session:
        report.dunning = await dunning.advance(session, services.settings, gateway, now)
        await session.commit()
    async with postgres.session() as session:
        await metrics.refresh(session)
    return report


async def _ensure_customers(services: Services, gateway: StripeGateway, report: CycleReport) -> int:
    created = 0
    async with services.postgres.session() as session:
        missing = list(
            await session.scalars(
                select(Publisher)
                .where(Publisher.stripe_customer_id.is_(None))
                .order_by(Publisher.created_at)
                .limit(_CUSTOMERS_PER_CYCLE)
            )
        )
        for publisher in missing:
            try:
                await invoicing.ensure_customer(session, gateway, publisher)
            except StripeGatewayError as exc:
                report.errors.append(f"customer for {publisher.id}: {exc}")
                break  # Stripe is down or refusing: the next cycle retries
            await session.commit()
            created += 1
    return created


async def issue_month(
    services: Services,
    gateway: StripeGateway | None,
    month_start: dt.date,
    now: dt.datetime,
    report: CycleReport,
    publisher_ids: list[uuid.UUID] | None = None,
) -> None:
    """Issue (and push and collect) the invoices of the month starting `month_start` for every
    publisher that existed before it ended and has none yet."""
    start, end = invoicing.month_of(month_start)
    month_end = dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)
    async with services.postgres.session() as session:
        query = (
            select(BillingAccount.publisher_id)
            .where(BillingAccount.created_at < month_end)
            .where(
                ~select(Invoice.id)
                .where(
                    Invoice.publisher_id == BillingAccount.publisher_id,
                    Invoice.period_start == start,
                )
                .exists()
            )
            .order_by(BillingAccount.publisher_id)
        )
        if publisher_ids is not None:
            query = query.where(BillingAccount.publisher_id.in_(publisher_ids))
        due = list(await session.scalars(query))
    for publisher_id in due:
        try:
            async with services.postgres.session() as session:
                await record_range(
                    session, services.analytics, services.cache, publisher_id, start, end
                )
                invoice, created = await invoicing.issue(
                    session, services.settings, publisher_id, start, now
                )
                await session.commit()
                report.invoices_issued += int(created)
                if gateway is not None:
                    await _push_and_collect(services, gateway, invoice, now, report)
        except Exception as exc:  # one publisher's failure must not stop the others
            log.exception("invoicing %s for %s failed", start, publisher_id)
            report.errors.append(f"invoice for {publisher_id}: {exc}")


async def _push_and_collect(
    services: Services,
    gateway: StripeGateway,
    invoice: Invoice,
    now: dt.datetime,
    report: CycleReport,
) -> None:
    async with services.postgres.session() as session:
        invoice = await session.merge(invoice)
        publisher = await session.get(Publisher, invoice.publisher_id)
        if publisher is not None and publisher.stripe_customer_id is None:
            await invoicing.ensure_customer(session, gateway, publisher)
        was_draft = invoice.status == "draft"
        await invoicing.push(session, gateway, invoice, now)
        if was_draft and invoice.status == "open":
            report.invoices_pushed += 1
            await outbox.notify_publisher(
                session,
                services.settings,
                invoice.publisher_id,
                template="billing/invoice_issued",
                context={
                    "invoice_number": invoice.number,
                    "amount": format_cents(invoice.total_cents),
                    "revenue": format_micros_as_dollars(invoice.revenue_micros),
                    "period": f"{invoice.period_start:%B %Y}",
                    "billing_url": services.settings.base_url.rstrip("/") + "/billing",
                },
                category="billing",
                dedupe_key=f"invoice:{invoice.id}:issued",
            )
        await session.commit()
        decline = await invoicing.collect(session, gateway, invoice, 0, now)
        if decline is not None:
            report.payments_failed += 1
            await dunning.open_case(session, services.settings, invoice, decline, now)
        await session.commit()


async def push_open_drafts(
    services: Services, gateway: StripeGateway, now: dt.datetime, report: CycleReport
) -> None:
    """Drafts a previous cycle could not push (Stripe down, no customer yet)."""
    async with services.postgres.session() as session:
        drafts = list(await session.scalars(select(Invoice).where(Invoice.status == "draft")))
    for invoice in drafts:
        try:
            await _push_and_collect(services, gateway, invoice, now, report)
        except StripeGatewayError as exc:
            report.errors.append(f"invoice {invoice.number}: {exc}")
            break


def billing_loop(services: Services, gateway: StripeGateway | None) -> Periodic:
    async def step() -> None:
        report = await run(services, gateway)
        for error in report.errors:
            log.warning("billing cycle: %s", error)

    return Periodic("billing cycle", CYCLE_INTERVAL_S, step)
