from __future__ import annotations

import datetime as dt
import html
import io
import re
import uuid
from dataclasses import replace

import pypdf
import pytest

from apex_mediation.billing.documents import (
    InvoiceDocument,
    document_from_rows,
    format_period,
    render_html,
    render_pdf,
)
from apex_mediation.db.models import BillingAccount, Invoice, InvoiceLine, Publisher

M = 1_000_000  # micros per dollar
UTC = dt.UTC

# (position, band, lower, upper, rate_ppm, revenue_micros, fee_micros, amount_cents): $150,123.46
# of revenue over the default marginal bands; the lines' cents add up to the total of $3,252.47.
LINES = [
    (0, "starter", 0, 10_000 * M, 0, 10_000 * M, 0, 0),
    (1, "growth", 10_000 * M, 100_000 * M, 25_000, 90_000 * M, 2_250 * M, 225_000),
    (2, "scale", 100_000 * M, 500_000 * M, 20_000, 50_123_456_789, 1_002_469_135, 100_247),
    (3, "enterprise", 500_000 * M, None, 15_000, 0, 0, 0),
]
EXPECTED_ROWS = [
    ("starter", "$0 \u2013 $10,000", "0 %", "$10,000.00", "$0.00"),
    ("growth", "$10,000 \u2013 $100,000", "2.5 %", "$90,000.00", "$2,250.00"),
    ("scale", "$100,000 \u2013 $500,000", "2 %", "$50,123.46", "$1,002.47"),
    ("enterprise", "above $500,000", "1.5 %", "$0.00", "$0.00"),
]


def _rows(
    name: str = "Acme Games", status: str = "open"
) -> tuple[Invoice, list[InvoiceLine], Publisher, BillingAccount]:
    publisher = Publisher(id=uuid.uuid4(), name=name)
    account = BillingAccount(publisher_id=publisher.id, billing_email="billing@acme.test")
    invoice = Invoice(
        id=uuid.uuid4(),
        publisher_id=publisher.id,
        number="APX-2026-11-0042",
        period_start=dt.date(2026, 11, 1),
        period_end=dt.date(2026, 12, 1),
        status=status,
        currency="USD",
        revenue_micros=150_123_456_789,
        trial_revenue_micros=1_234_565_000,
        fee_micros=3_252_469_135,
        total_cents=325_247,
        amount_paid_cents=325_247 if status == "paid" else 0,
        created_at=dt.datetime(2026, 12, 1, 2, tzinfo=UTC),
        finalized_at=None if status == "draft" else dt.datetime(2026, 12, 1, 3, tzinfo=UTC),
        due_at=dt.datetime(2026, 12, 15, 23, 59, tzinfo=UTC),
        paid_at=dt.datetime(2026, 12, 3, 9, tzinfo=UTC) if status == "paid" else None,
    )
    # Out of order on purpose: the document follows `position`, not the query's order.
    lines = [
        InvoiceLine(
            invoice_id=invoice.id,
            position=position,
            band=band,
            lower_micros=lower,
            upper_micros=upper,
            rate_ppm=rate,
            revenue_micros=revenue,
            fee_micros=fee,
            amount_cents=cents,
        )
        for position, band, lower, upper, rate, revenue, fee, cents in reversed(LINES)
    ]
    return invoice, lines, publisher, account


def _document(name: str = "Acme Games", status: str = "open") -> InvoiceDocument:
    return document_from_rows(*_rows(name, status))


def _pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[ \t]+", " ", text)


def test_document_from_rows_copies_plain_values_in_line_order() -> None:
    doc = _document()
    assert [line.band for line in doc.lines] == ["starter", "growth", "scale", "enterprise"]
    assert doc.lines[3].upper_micros is None
    assert doc.billing_email == "billing@acme.test"
    assert doc.issued_at == dt.datetime(2026, 12, 1, 3, tzinfo=UTC)
    assert doc.total_cents == sum(line.amount_cents for line in doc.lines)


def test_document_from_rows_without_an_account_has_no_email() -> None:
    invoice, lines, publisher, _ = _rows()
    assert document_from_rows(invoice, lines, publisher, None).billing_email is None


def test_document_from_rows_refuses_rows_of_someone_else() -> None:
    invoice, lines, publisher, account = _rows()
    _, other_lines, other_publisher, other_account = _rows("Other")
    with pytest.raises(ValueError, match="does not belong to publisher"):
        document_from_rows(invoice, lines, other_publisher, account)
    with pytest.raises(ValueError, match="billing account"):
        document_from_rows(invoice, lines, publisher, other_account)
    with pytest.raises(ValueError, match="line does not belong"):
        document_from_rows(invoice, [*lines, other_lines[0]], publisher, account)


def test_html_shows_every_line_and_the_totals() -> None:
    page = render_html(_document())
    text = html.unescape(page)
    for cells in EXPECTED_ROWS:
        assert re.search(r"\s*</td>\s*<td[^>]*>\s*".join(map(re.escape, cells)), text), cells
    assert "Apex Mediation" in text
    assert "Invoice APX-2026-11-0042" in text
    assert "Acme Games" in text
    assert "billing@acme.test" in text
    assert "1\u201330 November 2026" in text
    assert "Due by 15 December 2026" in text
    assert re.search(r"Mediated revenue</th>\s*<td[^>]*>\$150,123\.46<", text)
    assert re.search(r"Total due</th>\s*<td[^>]*>\$3,252\.47<", text)
    assert re.search(r"Amount paid</th>\s*<td[^>]*>\$0\.00<", text)
    assert "Revenue mediated during your trial is not charged: $1,234.57" in text
    assert "each band's rate applies only to the revenue inside that band" in text


def test_html_is_self_contained() -> None:
    page = render_html(_document()).lower()
    assert "<script" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<style>" in page


def test_html_escapes_a_hostile_publisher_name() -> None:
    page = render_html(_document('<script>alert("x")</script> & Co'))
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page


def test_html_keeps_a_unicode_name() -> None:
    name = "Zo\u00eb \U0001f680 Games \u682a\u5f0f\u4f1a\u793e"
    assert name in render_html(_document(name))


@pytest.mark.parametrize(
    ("status", "shown"),
    [("paid", "Paid on 3 December 2026"), ("draft", "Draft"), ("void", "Void")],
)
def test_status_is_shown(status: str, shown: str) -> None:
    page = render_html(_document(status=status))
    assert shown in page
    assert "Due by" not in page


def test_paid_invoice_shows_the_amount_paid() -> None:
    text = _pdf_text(render_pdf(_document(status="paid")))
    assert "Amount paid $3,252.47" in text
    assert "Balance due $0.00" in text


def test_no_trial_note_without_trial_revenue() -> None:
    doc = replace(_document(), trial_revenue_micros=0)
    assert "trial" not in render_html(doc)
    assert "trial" not in _pdf_text(render_pdf(doc))


def test_pdf_is_a_parseable_pdf_with_the_figures() -> None:
    data = render_pdf(_document())
    assert data.startswith(b"%PDF-")
    text = _pdf_text(data)
    assert "APX-2026-11-0042" in text
    assert "Acme Games" in text
    assert "1\u201330 November 2026" in text
    assert "Due by 15 December 2026" in text
    for cells in EXPECTED_ROWS:
        assert " ".join(cells) in text, cells
    assert "Mediated revenue $150,123.46" in text
    assert "Total due $3,252.47" in text
    assert "Amount paid $0.00" in text
    assert "Revenue mediated during your trial is not charged: $1,234.57" in text
    assert "each band's rate applies only to the revenue inside that band" in text


def test_pdf_survives_a_name_outside_latin_1() -> None:
    data = render_pdf(_document("Zo\u00eb \U0001f680 Games \u682a\u5f0f\u4f1a\u793e"))
    text = _pdf_text(data)
    # What the core font can print is kept; the rest is replaced, not fatal.
    assert "Billed to: Zo\u00eb ? Games ????" in text
    assert "Total due $3,252.47" in text


@pytest.mark.parametrize("render", [render_html, render_pdf])
def test_lines_that_do_not_add_up_are_refused(render: object) -> None:
    doc = _document()
    off_by_a_cent = replace(doc, total_cents=doc.total_cents + 1)
    missing_line = replace(doc, lines=doc.lines[:2])
    for bad in (off_by_a_cent, missing_line):
        with pytest.raises(ValueError, match="add up"):
            render(bad)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (dt.date(2026, 11, 1), dt.date(2026, 12, 1), "1\u201330 November 2026"),
        (dt.date(2026, 2, 1), dt.date(2026, 3, 1), "1\u201328 February 2026"),
        (dt.date(2026, 12, 1), dt.date(2027, 1, 1), "1\u201331 December 2026"),
        (dt.date(2026, 11, 5), dt.date(2026, 11, 6), "5 November 2026"),
        (dt.date(2026, 11, 15), dt.date(2026, 12, 15), "15 November \u2013 14 December 2026"),
        (dt.date(2026, 12, 15), dt.date(2027, 1, 15), "15 December 2026 \u2013 14 January 2027"),
    ],
)
def test_format_period_shows_the_last_day_inclusive(
    start: dt.date, end: dt.date, text: str
) -> None:
    assert format_period(start, end) == text


def test_format_period_refuses_an_empty_period() -> None:
    with pytest.raises(ValueError, match="empty"):
        format_period(dt.date(2026, 11, 1), dt.date(2026, 11, 1))


def test_a_paid_invoice_collected_below_its_total_shows_the_discount() -> None:
    """A Stripe coupon on the customer: the document shows the discount, not a balance owed."""
    paid = _document(status="paid")
    doc = replace(paid, amount_paid_cents=paid.total_cents - 20_000)
    text = _pdf_text(render_pdf(doc))
    assert "Discount (Stripe coupon) $200.00" in text
    assert "Balance due $0.00" in text
    page = render_html(doc)
    assert "Discount (Stripe coupon)" in page and "$200.00" in page
    # Unpaid, the same shortfall is a balance still due.
    owed = _pdf_text(render_pdf(replace(doc, status="open")))
    assert "Balance due $200.00" in owed and "Discount" not in owed
