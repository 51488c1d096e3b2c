"""The billing page: plan and trial, the month so far and its projected fee per band, payment
standing (with dunning's next step), invoices as HTML and PDF, payment-method and portal links
through Stripe, and network-reported revenue (CSV upload) beside tracked revenue."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import HTMLResponse

from apex_mediation.accounts.errors import DomainError, InvalidInput, NotFound
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.billing import documents, invoicing, reconcile, summary
from apex_mediation.billing.money import format_cents, format_micros_as_dollars, format_rate_ppm
from apex_mediation.billing.runtime import gateway_of
from apex_mediation.billing.stripe_gateway import StripeGatewayError
from apex_mediation.console.rendering import ConsoleRoute, redirect, render
from apex_mediation.console.viewer import ViewerDep
from apex_mediation.db.models import BillingAccount, Invoice, Publisher

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
RECONCILE_DAYS = 30
MAX_UPLOAD_BYTES = 2_000_000
_DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


async def _page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    *,
    flash: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    publisher_id = viewer.actor.tenant()
    now = dt.datetime.now(dt.UTC)
    found = await summary.summarise(
        session, services.analytics, services.settings, publisher_id, now
    )
    end = now.date() + dt.timedelta(days=1)
    differences = await reconcile.reconcile(
        session, services.analytics, publisher_id, end - dt.timedelta(days=RECONCILE_DAYS), end
    )
    return render(
        request,
        "billing/index.html",
        {
            "viewer": viewer,
            "s": found,
            "invoices": await summary.invoices_of(session, publisher_id),
            "differences": [d for d in differences if d.reported_micros is not None],
            "payments": gateway_of(request.app) is not None,
            "cents": format_cents,
            "dollars": format_micros_as_dollars,
            "rate": format_rate_ppm,
            "flash": flash or _saved(request),
            "error": error,
        },
        status,
    )


def _saved(request: Request) -> str | None:
    if request.query_params.get("payment_method") == "saved":
        return "Payment method saved."
    return None


@router.get("/billing")
async def billing_page(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    return await _page(request, viewer, session, services)


async def _stripe_link(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep, kind: str
) -> Response:
    viewer.actor.require_role("admin")
    gateway = gateway_of(request.app)
    if gateway is None:
        return await _page(
            request, viewer, session, services, error="Payments are not configured.", status=400
        )
    publisher = await session.get(Publisher, viewer.actor.tenant())
    assert publisher is not None
    back = services.settings.base_url.rstrip("/") + "/billing"
    try:
        customer = await invoicing.ensure_customer(session, gateway, publisher)
        if kind == "portal":
            url = await gateway.portal_link(customer, return_url=back)
        else:
            url = await gateway.checkout_setup_link(
                customer, success_url=back + "?payment_method=saved", cancel_url=back
            )
    except StripeGatewayError as exc:
        return await _page(
            request,
            viewer,
            session,
            services,
            error=f"The payment provider is unavailable: {exc}",
            status=502,
        )
    return redirect(url)


@router.post("/billing/payment-method")
async def payment_method(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    return await _stripe_link(request, viewer, session, services, "checkout")


@router.post("/billing/portal")
async def portal(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    return await _stripe_link(request, viewer, session, services, "portal")


@router.post("/billing/network-revenue")
async def upload_network_revenue(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    try:
        viewer.actor.require_role("admin")
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidInput(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", field="file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the file is not UTF-8 text", field="file") from exc
        rows = reconcile.parse_csv(text)
        imported = await reconcile.import_rows(session, viewer.actor, rows, "csv")
    except DomainError as exc:
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return await _page(request, viewer, session, services, error=message, status=400)
    return await _page(
        request, viewer, session, services, flash=f"Imported {imported} rows of network revenue."
    )


async def _document(
    session: SessionDep, viewer: ViewerDep, invoice_id: uuid.UUID
) -> documents.InvoiceDocument:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.publisher_id != viewer.actor.tenant():
        raise NotFound("invoice not found")
    publisher = await session.get(Publisher, invoice.publisher_id)
    assert publisher is not None
    account = await session.get(BillingAccount, invoice.publisher_id)
    lines = await invoicing.lines_of(session, invoice.id)
    return documents.document_from_rows(invoice, lines, publisher, account)


@router.get("/billing/invoices/{invoice_id}")
async def invoice_page(invoice_id: uuid.UUID, viewer: ViewerDep, session: SessionDep) -> Response:
    doc = await _document(session, viewer, invoice_id)
    return HTMLResponse(
        documents.render_html(doc),
        headers={"Content-Security-Policy": _DOCUMENT_CSP, "Cache-Control": "no-store"},
    )


@router.get("/billing/invoices/{invoice_id}/pdf")
async def invoice_pdf(invoice_id: uuid.UUID, viewer: ViewerDep, session: SessionDep) -> Response:
    doc = await _document(session, viewer, invoice_id)
    return Response(
        documents.render_pdf(doc),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{doc.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )
