"""Billing: `/api/v1/billing` — the month so far and its projected fee, invoices (JSON, HTML,
PDF), payment links, network-reported revenue and its reconciliation, Stripe's webhook."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel
from sqlalchemy import select

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.api.deps import (
    CurrentActor,
    ManagementActor,
    OperatorActor,
    ServicesDep,
    SessionDep,
)
from apex_mediation.api.schemas import IsoDate
from apex_mediation.billing import documents, invoicing, reconcile, summary, usage, webhooks
from apex_mediation.billing.runtime import gateway_of
from apex_mediation.billing.stripe_gateway import StripeGatewayError, WebhookSignatureInvalid
from apex_mediation.db.models import BillingAccount, Invoice, Publisher

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)
MAX_CSV_BYTES = 2_000_000


class FeeLineOut(BaseModel):
    model_config = _CAMEL
    band: str
    rate_ppm: int
    revenue_micros: int
    fee_micros: int
    amount_cents: int


class FeeOut(BaseModel):
    model_config = _CAMEL
    revenue_micros: int
    trial_revenue_micros: int
    billable_micros: int
    fee_micros: int
    total_cents: int
    lines: list[FeeLineOut]

    @classmethod
    def of(cls, fee: invoicing.FeeBreakdown) -> FeeOut:
        return cls(
            revenue_micros=fee.revenue_micros,
            trial_revenue_micros=fee.trial_revenue_micros,
            billable_micros=fee.billable_micros,
            fee_micros=fee.fee_micros,
            total_cents=fee.total_cents,
            lines=[
                FeeLineOut(
                    band=p.band.name,
                    rate_ppm=p.band.rate_ppm,
                    revenue_micros=p.revenue_micros,
                    fee_micros=p.fee_micros,
                    amount_cents=c,
                )
                for p, c in zip(fee.parts, fee.cents, strict=True)
            ],
        )


class DunningOut(BaseModel):
    model_config = _CAMEL
    invoice_id: uuid.UUID
    started_at: dt.datetime
    step: int
    next_action_at: dt.datetime | None
    grace_ends_at: dt.datetime
    restricted: bool


class SummaryOut(BaseModel):
    model_config = _CAMEL
    plan: str
    status: str
    trial_active: bool
    trial_ends_at: dt.datetime
    trial_days_left: int
    has_payment_method: bool
    period_start: dt.date
    period_end: dt.date
    impressions: int
    requests: int
    to_date: FeeOut
    projected: FeeOut
    dunning: DunningOut | None


class InvoiceOut(BaseModel):
    model_config = _CAMEL
    id: uuid.UUID
    number: str
    period_start: dt.date
    period_end: dt.date
    status: str
    currency: str
    revenue_micros: int
    trial_revenue_micros: int
    fee_micros: int
    total_cents: int
    amount_paid_cents: int
    hosted_invoice_url: str | None
    created_at: dt.datetime
    due_at: dt.datetime | None
    paid_at: dt.datetime | None
    lines: list[FeeLineOut] | None = None

    @classmethod
    def of(cls, invoice: Invoice, lines: list[Any] | None = None) -> InvoiceOut:
        return cls(
            id=invoice.id,
            number=invoice.number,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            status=invoice.status,
            currency=invoice.currency,
            revenue_micros=invoice.revenue_micros,
            trial_revenue_micros=invoice.trial_revenue_micros,
            fee_micros=invoice.fee_micros,
            total_cents=invoice.total_cents,
            amount_paid_cents=invoice.amount_paid_cents,
            hosted_invoice_url=invoice.hosted_invoice_url,
            created_at=invoice.created_at,
            due_at=invoice.due_at,
            paid_at=invoice.paid_at,
            lines=None
            if lines is None
            else [
                FeeLineOut(
                    band=line.band,
                    rate_ppm=line.rate_ppm,
                    revenue_micros=line.revenue_micros,
                    fee_micros=line.fee_micros,
                    amount_cents=line.amount_cents,
                )
                for line in lines
            ],
        )


class LinkOut(BaseModel):
    url: str


class ReportedRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)
    day: IsoDate
    network: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    revenue_micros: Annotated[StrictInt, Field(ge=0, le=10**15)]
    impressions: Annotated[StrictInt, Field(ge=0)] | None = None
    app_id: uuid.UUID | None = None


class ReportedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: Annotated[list[ReportedRowIn], Field(min_length=1, max_length=reconcile.MAX_ROWS)]


class ImportedOut(BaseModel):
    imported: int


class DifferenceOut(BaseModel):
    model_config = _CAMEL
    network: str
    day: dt.date
    tracked_micros: int
    reported_micros: int | None
    difference_micros: int | None
    difference_ppm: int | None
    tracked_impressions: int
    reported_impressions: int | None

    @classmethod
    def of(cls, diff: reconcile.Difference) -> DifferenceOut:
        return cls(
            network=diff.network,
            day=diff.day,
            tracked_micros=diff.tracked_micros,
            reported_micros=diff.reported_micros,
            difference_micros=diff.difference_micros,
            difference_ppm=diff.difference_ppm,
            tracked_impressions=diff.tracked_impressions,
            reported_impressions=diff.reported_impressions,
        )


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)
    start_date: IsoDate
    end_date: IsoDate
    publisher_id: uuid.UUID | None = None


class ReconciledOut(BaseModel):
    model_config = _CAMEL
    publishers: int
    rows: int
    differences: list[DifferenceOut]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _days(start: dt.date, end: dt.date) -> dt.date:
    """The exclusive end of [start, end], checked before any work: a period of centuries
    would otherwise be computed day by day, and the last date has no next day."""
    if end < start or (end - start).days >= reconcile.MAX_DAYS:
        raise InvalidInput(
            f"the period must be 1 to {reconcile.MAX_DAYS} days, endDate not before startDate",
            field="endDate",
        )
    if end == dt.date.max:
        raise InvalidInput("endDate is out of range", field="endDate")
    return end + dt.timedelta(days=1)


def _reader(actor: Actor) -> uuid.UUID:
    """Any member or API key of the publisher may read its billing (SDK keys never get here)."""
    return actor.tenant()


@router.get("/summary", response_model=SummaryOut)
async def get_summary(
    actor: CurrentActor, session: SessionDep, services: ServicesDep
) -> SummaryOut:
    found = await summary.summarise(
        session, services.analytics, services.settings, _reader(actor), _now()
    )
    case = found.dunning
    return SummaryOut(
        plan=found.account.plan,
        status=found.account.status,
        trial_active=found.trial.active,
        trial_ends_at=found.trial.ends_at,
        trial_days_left=found.trial.days_left,
        has_payment_method=found.account.has_payment_method,
        period_start=found.month_start,
        period_end=found.month_end,
        impressions=found.impressions,
        requests=found.requests,
        to_date=FeeOut.of(found.to_date),
        projected=FeeOut.of(found.projected),
        dunning=None
        if case is None
        else DunningOut(
            invoice_id=case.invoice_id,
            started_at=case.started_at,
            step=case.step,
            next_action_at=case.next_action_at,
            grace_ends_at=case.grace_ends_at,
            restricted=case.restricted_at is not None,
        ),
    )


@router.get("/invoices", response_model=list[InvoiceOut])
async def list_invoices(actor: CurrentActor, session: SessionDep) -> list[InvoiceOut]:
    return [InvoiceOut.of(i) for i in await summary.invoices_of(session, _reader(actor))]


async def _owned_invoice(session: SessionDep, actor: Actor, invoice_id: uuid.UUID) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.publisher_id != _reader(actor):
        raise NotFound("invoice not found")
    return invoice


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(
    invoice_id: uuid.UUID, actor: CurrentActor, session: SessionDep
) -> InvoiceOut:
    invoice = await _owned_invoice(session, actor, invoice_id)
    return InvoiceOut.of(invoice, await invoicing.lines_of(session, invoice.id))


async def _document(
    session: SessionDep, actor: Actor, invoice_id: uuid.UUID
) -> documents.InvoiceDocument:
    invoice = await _owned_invoice(session, actor, invoice_id)
    publisher = await session.get(Publisher, invoice.publisher_id)
    account = await session.get(BillingAccount, invoice.publisher_id)
    assert publisher is not None
    return documents.document_from_rows(
        invoice, await invoicing.lines_of(session, invoice.id), publisher, account
    )


# `response_class=Response` keeps the error answers documented as the JSON they are; the
# document's own type is given per status.
@router.get(
    "/invoices/{invoice_id}/html",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "the invoice as HTML"}},
)
async def invoice_html(
    invoice_id: uuid.UUID, actor: CurrentActor, session: SessionDep
) -> HTMLResponse:
    doc = await _document(session, actor, invoice_id)
    return HTMLResponse(
        documents.render_html(doc),
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


@router.get(
    "/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as a PDF"}},
)
async def invoice_pdf(invoice_id: uuid.UUID, actor: CurrentActor, session: SessionDep) -> Response:
    doc = await _document(session, actor, invoice_id)
    return Response(
        documents.render_pdf(doc),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{doc.number}.pdf"'},
    )


async def _customer(
    session: SessionDep, services: ServicesDep, request: Request, actor: Actor
) -> tuple[Any, str]:
    actor.require_role("admin")
    gateway = gateway_of(request.app)
    if gateway is None:
        raise InvalidInput("payments are not configured on this platform (APEX_STRIPE_SECRET_KEY)")
    publisher = await session.get(Publisher, actor.tenant())
    assert publisher is not None
    try:
        customer = await invoicing.ensure_customer(session, gateway, publisher)
    except StripeGatewayError as exc:
        raise InvalidInput(f"the payment provider is unavailable: {exc}") from exc
    return gateway, customer


@router.post("/payment-method", response_model=LinkOut)
async def payment_method_link(
    request: Request, actor: ManagementActor, session: SessionDep, services: ServicesDep
) -> LinkOut:
    """A Stripe Checkout page (setup mode) where the publisher saves a payment method."""
    gateway, customer = await _customer(session, services, request, actor)
    back = services.settings.base_url.rstrip("/") + "/billing"
    try:
        url = await gateway.checkout_setup_link(
            customer, success_url=back + "?payment_method=saved", cancel_url=back
        )
    except StripeGatewayError as exc:
        raise InvalidInput(f"the payment provider is unavailable: {exc}") from exc
    return LinkOut(url=url)


@router.post("/portal", response_model=LinkOut)
async def portal_link(
    request: Request, actor: ManagementActor, session: SessionDep, services: ServicesDep
) -> LinkOut:
    """Stripe's Billing Portal: payment methods, invoices, receipts."""
    gateway, customer = await _customer(session, services, request, actor)
    try:
        url = await gateway.portal_link(
            customer, return_url=services.settings.base_url.rstrip("/") + "/billing"
        )
    except StripeGatewayError as exc:
        raise InvalidInput(f"the payment provider is unavailable: {exc}") from exc
    return LinkOut(url=url)


@router.post("/network-revenue", response_model=ImportedOut)
async def import_network_revenue(
    body: ReportedIn, actor: ManagementActor, session: SessionDep
) -> ImportedOut:
    rows = [
        reconcile.check_row(
            reconcile.ReportedRow(
                r.day, r.network.lower(), r.revenue_micros, r.impressions, r.app_id
            ),
            f"rows[{i}]",
        )
        for i, r in enumerate(body.rows)
    ]
    return ImportedOut(imported=await reconcile.import_rows(session, actor, rows, "api"))


@router.post("/network-revenue/csv", response_model=ImportedOut)
async def import_network_revenue_csv(
    request: Request, actor: ManagementActor, session: SessionDep
) -> ImportedOut:
    """A CSV body (`Content-Type: text/csv`): day,network,revenue[,impressions][,app_id]."""
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise InvalidInput(f"the CSV is larger than {MAX_CSV_BYTES} bytes", field="file")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV is not UTF-8 text", field="file") from exc
    rows = reconcile.parse_csv(text)
    return ImportedOut(imported=await reconcile.import_rows(session, actor, rows, "csv"))


@router.get("/reconciliation", response_model=list[DifferenceOut])
async def get_reconciliation(
    actor: CurrentActor,
    session: SessionDep,
    services: ServicesDep,
    start_date: Annotated[IsoDate, Query(alias="startDate")],
    end_date: Annotated[IsoDate, Query(alias="endDate")],
) -> list[DifferenceOut]:
    """Tracked against reported revenue per network and day in [startDate, endDate]."""
    found = await reconcile.reconcile(
        session, services.analytics, _reader(actor), start_date, _days(start_date, end_date)
    )
    return [DifferenceOut.of(d) for d in found]


@router.post("/reconcile", response_model=ReconciledOut)
async def run_reconcile(
    body: ReconcileIn, actor: OperatorActor, session: SessionDep, services: ServicesDep
) -> ReconciledOut:
    """The operator's reconciliation: for one publisher or all, recompute the stored daily usage
    and the tracked-versus-reported comparison over [startDate, endDate]."""
    end = _days(body.start_date, body.end_date)
    if body.publisher_id is not None:
        ids = [body.publisher_id]
        if await session.get(Publisher, body.publisher_id) is None:
            raise NotFound("publisher not found", field="publisherId")
    else:
        ids = list(await session.scalars(select(Publisher.id).order_by(Publisher.id)))
    differences: list[reconcile.Difference] = []
    for publisher_id in ids:
        await usage.record_range(
            session, services.analytics, services.cache, publisher_id, body.start_date, end
        )
        differences += await reconcile.reconcile(
            session, services.analytics, publisher_id, body.start_date, end
        )
    # Stored usage is what invoices are computed from: recomputing it is audited.
    await audit.record(
        session,
        actor,
        "billing.usage_recomputed",
        "usage",
        publisher_id=body.publisher_id,
        details={
            "start_date": body.start_date.isoformat(),
            "end_date": body.end_date.isoformat(),
            "publishers": len(ids),
            "differences": len(differences),
        },
    )
    return ReconciledOut(
        publishers=len(ids),
        rows=len(differences),
        differences=[DifferenceOut.of(d) for d in differences if d.difference_micros][:1000],
    )


@router.post("/stripe/webhook", include_in_schema=False)
async def stripe_webhook(
    request: Request, session: SessionDep, services: ServicesDep
) -> dict[str, Any]:
    """Stripe's events: the signature is checked before anything is read."""
    gateway = gateway_of(request.app)
    payload = await request.body()
    signature = request.headers.get("stripe-signature", "")
    if gateway is None:
        raise InvalidInput("Stripe is not configured on this platform")
    try:
        event = gateway.verify_webhook(payload, signature)
    except WebhookSignatureInvalid as exc:
        raise InvalidInput(str(exc), field="Stripe-Signature") from exc
    outcome = await webhooks.receive(session, services.settings, event, _now())
    return {"received": True, "duplicate": outcome.duplicate, "applied": outcome.applied}
