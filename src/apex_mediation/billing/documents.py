"""An invoice as a document a publisher keeps: the same text rendered as HTML and as PDF.

Rows become an `InvoiceDocument` of plain values; `_present` turns it into the strings both
renderings print, so the HTML and the PDF can never disagree. Both refuse a document whose lines
do not add up to its total: an invoice that does not add up must never leave the platform.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from apex_mediation.billing.money import (
    EN_DASH,
    band_range,
    format_cents,
    format_micros_as_dollars,
    format_rate_ppm,
)
from apex_mediation.db.models import BillingAccount, Invoice, InvoiceLine, Publisher

MARGINAL_NOTE = (
    "The fee is marginal: each band's rate applies only to the revenue inside that band, "
    "so more revenue never makes the revenue below it cost more."
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class DocumentLine:
    band: str
    lower_micros: int
    upper_micros: int | None  # None: no upper bound
    rate_ppm: int
    revenue_micros: int  # the part of the month's revenue inside this band
    amount_cents: int


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything a rendering needs, as plain values (no session, no lazy loading)."""

    number: str
    publisher_name: str
    billing_email: str | None
    period_start: dt.date
    period_end: dt.date  # exclusive
    status: str
    currency: str
    revenue_micros: int
    trial_revenue_micros: int
    fee_micros: int
    total_cents: int
    amount_paid_cents: int
    issued_at: dt.datetime | None
    due_at: dt.datetime | None
    paid_at: dt.datetime | None
    lines: tuple[DocumentLine, ...]
    platform_name: str = "Apex Mediation"


def document_from_rows(
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    publisher: Publisher,
    account: BillingAccount | None,
) -> InvoiceDocument:
    # Rows of another invoice or publisher here would put one publisher's figures on another's.
    if invoice.publisher_id != publisher.id:
        raise ValueError(f"invoice {invoice.number} does not belong to publisher {publisher.id}")
    if account is not None and account.publisher_id != publisher.id:
        raise ValueError(f"the billing account is not publisher {publisher.id}'s")
    if any(line.invoice_id != invoice.id for line in lines):
        raise ValueError(f"a line does not belong to invoice {invoice.number}")
    return InvoiceDocument(
        number=invoice.number,
        publisher_name=publisher.name,
        billing_email=account.billing_email if account is not None else None,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        status=invoice.status,
        currency=invoice.currency,
        revenue_micros=invoice.revenue_micros,
        trial_revenue_micros=invoice.trial_revenue_micros,
        fee_micros=invoice.fee_micros,
        total_cents=invoice.total_cents,
        amount_paid_cents=invoice.amount_paid_cents,
        issued_at=invoice.finalized_at,
        due_at=invoice.due_at,
        paid_at=invoice.paid_at,
        lines=tuple(
            DocumentLine(
                band=line.band,
                lower_micros=line.lower_micros,
                upper_micros=line.upper_micros,
                rate_ppm=line.rate_ppm,
                revenue_micros=line.revenue_micros,
                amount_cents=line.amount_cents,
            )
            for line in sorted(lines, key=lambda line: line.position)
        ),
    )


@dataclass(frozen=True)
class _Row:
    band: str
    range: str
    rate: str
    revenue: str
    fee: str


@dataclass(frozen=True)
class _Presented:
    title: str
    platform: str
    number: str
    publisher: str
    billing_email: str | None
    period: str
    status: str
    status_key: str  # the stored status, for styling
    issued: str | None
    rows: tuple[_Row, ...]
    trial_note: str | None
    revenue_total: str
    total_due: str
    amount_paid: str
    discount: str | None  # a paid invoice collected below its total: the Stripe discount
    balance_due: str
    marginal_note: str


def _day(value: dt.date) -> str:
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _date_of(moment: dt.datetime) -> dt.date:
    # Stored instants are UTC; a naive one is taken as UTC already.
    return moment.astimezone(dt.UTC).date() if moment.tzinfo is not None else moment.date()


def format_period(start: dt.date, end_exclusive: dt.date) -> str:
    """The last day shown inclusive: [1 Nov, 1 Dec) is 1 to 30 November 2026, with an en dash
    between the days; a period across months or years names both ends in full."""
    last = end_exclusive - dt.timedelta(days=1)
    if last < start:
        raise ValueError(f"the period from {start} to {end_exclusive} (exclusive) is empty")
    if start == last:
        return _day(start)
    if (start.year, start.month) == (last.year, last.month):
        return f"{start.day}{EN_DASH}{_day(last)}"
    if start.year == last.year:
        return f"{start.day} {_MONTHS[start.month - 1]} {EN_DASH} {_day(last)}"
    return f"{_day(start)} {EN_DASH} {_day(last)}"


def _status(doc: InvoiceDocument) -> str:
    if doc.status == "paid":
        return f"Paid on {_day(_date_of(doc.paid_at))}" if doc.paid_at else "Paid"
    if doc.status == "open":
        return f"Due by {_day(_date_of(doc.due_at))}" if doc.due_at else "Due"
    return doc.status.capitalize()  # draft, void, uncollectible


def _present(doc: InvoiceDocument) -> _Presented:
    lines_cents = sum(line.amount_cents for line in doc.lines)
    if lines_cents != doc.total_cents:
        raise ValueError(
            f"invoice {doc.number}: lines add up to {lines_cents} cents, "
            f"the total is {doc.total_cents} cents"
        )
    money = doc.currency
    trial_note = None
    if doc.trial_revenue_micros > 0:
        trial = format_micros_as_dollars(doc.trial_revenue_micros, money)
        trial_note = f"Revenue mediated during your trial is not charged: {trial}"
    # Stripe collected less than the total (a discount coupon on the customer): the
    # difference is the discount, not a balance still owed.
    discount = (
        doc.total_cents - doc.amount_paid_cents
        if doc.status == "paid" and doc.amount_paid_cents < doc.total_cents
        else 0
    )
    return _Presented(
        title=f"{doc.platform_name} invoice {doc.number}",
        platform=doc.platform_name,
        number=doc.number,
        publisher=doc.publisher_name,
        billing_email=doc.billing_email,
        period=format_period(doc.period_start, doc.period_end),
        status=_status(doc),
        status_key=doc.status,
        issued=_day(_date_of(doc.issued_at)) if doc.issued_at else None,
        rows=tuple(
            _Row(
                band=line.band,
                range=band_range(line.lower_micros, line.upper_micros),
                rate=format_rate_ppm(line.rate_ppm),
                revenue=format_micros_as_dollars(line.revenue_micros, money),
                fee=format_cents(line.amount_cents, money),
            )
            for line in doc.lines
        ),
        trial_note=trial_note,
        revenue_total=format_micros_as_dollars(doc.revenue_micros, money),
        total_due=format_cents(doc.total_cents, money),
        amount_paid=format_cents(doc.amount_paid_cents, money),
        discount=format_cents(discount, money) if discount else None,
        balance_due=format_cents(doc.total_cents - doc.amount_paid_cents - discount, money),
        marginal_note=MARGINAL_NOTE,
    )


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(doc: InvoiceDocument) -> str:
    return _environment().get_template("invoice.html").render(doc=_present(doc))


def _pdf_text(text: str) -> str:
    # The core fonts cover Windows-1252 only; anything else (CJK, emoji) prints as "?" rather
    # than failing the whole document.
    return text.encode("cp1252", errors="replace").decode("cp1252")


_COLUMNS = (("Band", 30.0), ("Range", 52.0), ("Rate", 22.0), ("Revenue", 38.0), ("Fee", 38.0))


def render_pdf(doc: InvoiceDocument) -> bytes:
    shown = _present(doc)
    pdf = FPDF(format="A4", unit="mm")
    pdf.core_fonts_encoding = "cp1252"
    pdf.set_title(_pdf_text(shown.title))
    pdf.set_author(_pdf_text(shown.platform))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def line(text: str, size: float = 10, style: str = "", height: float = 6) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, height, _pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(shown.platform, 16, "B", 9)
    line(f"Invoice {shown.number}", 12, "B", 7)
    line(shown.status, 11, "B")
    pdf.ln(3)
    line(f"Billed to: {shown.publisher}")
    if shown.billing_email:
        line(f"Billing email: {shown.billing_email}")
    line(f"Period: {shown.period}")
    if shown.issued:
        line(f"Issued: {shown.issued}")
    pdf.ln(4)

    pdf.set_font("Helvetica", "B", 10)
    for index, (title, width) in enumerate(_COLUMNS):
        align = "L" if index < 2 else "R"
        pdf.cell(width, 7, title, border="B", align=align)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for row in shown.rows:
        cells = (row.band, row.range, row.rate, row.revenue, row.fee)
        for index, (text, (_, width)) in enumerate(zip(cells, _COLUMNS, strict=True)):
            pdf.cell(width, 7, _pdf_text(text), align="L" if index < 2 else "R")
        pdf.ln()
    pdf.ln(3)

    totals = (
        ("Mediated revenue", shown.revenue_total),
        ("Total due", shown.total_due),
        ("Amount paid", shown.amount_paid),
        *((("Discount (Stripe coupon)", shown.discount),) if shown.discount else ()),
        ("Balance due", shown.balance_due),
    )
    label_width = sum(width for _, width in _COLUMNS[:-1])
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label == "Total due" else "", 10)
        pdf.cell(label_width, 7, label, align="R")
        pdf.cell(_COLUMNS[-1][1], 7, _pdf_text(amount), align="R")
        pdf.ln()
    pdf.ln(4)
    if shown.trial_note:
        line(shown.trial_note, 9, height=5)
    line(shown.marginal_note, 9, height=5)
    return bytes(pdf.output())
