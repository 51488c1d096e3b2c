"""Billing's metrics. `stripe_revenue_cents` is read from PostgreSQL by each billing cycle (the
sum paid through Stripe, all time), so every process reports the same figure and a restart does
not reset it; a paid webhook adds to it at once in between."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import BillingAccount, Invoice

stripe_revenue_cents = Gauge(
    "stripe_revenue_cents", "Platform fees collected through Stripe (paid invoices), in cents"
)
billing_accounts_by_status = Gauge(
    "billing_accounts", "Publishers' billing accounts by status", ["status"]
)


def paid_invoice(amount_cents: int) -> None:
    stripe_revenue_cents.inc(amount_cents)


async def refresh(session: AsyncSession) -> None:
    paid = await session.scalar(
        select(func.coalesce(func.sum(Invoice.amount_paid_cents), 0)).where(
            Invoice.status == "paid", Invoice.stripe_invoice_id.is_not(None)
        )
    )
    stripe_revenue_cents.set(int(paid or 0))
    rows = await session.execute(
        select(BillingAccount.status, func.count()).group_by(BillingAccount.status)
    )
    counts = {status: int(n) for status, n in rows.all()}
    for status in ("trialing", "active", "past_due", "restricted", "canceled"):
        billing_accounts_by_status.labels(status).set(counts.get(status, 0))
