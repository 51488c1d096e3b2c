"""What a publisher's billing standing allows: a restricted account (dunning's last step) keeps
serving ads and reading everything, but changes nothing outside billing until it pays."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import PaymentRequired
from apex_mediation.db.models import BillingAccount

# Paths a restricted publisher may still change: paying, signing in and out, preferences.
ALWAYS_ALLOWED = (
    "/api/v1/billing",
    "/billing",
    "/api/v1/auth",
    "/login",
    "/logout",
    "/publisher",
    "/notifications",
    # Data protection rights (export, erasure) do not wait for a payment.
    "/api/v1/privacy",
    "/settings/privacy",
)


async def billing_status(session: AsyncSession, publisher_id: uuid.UUID | None) -> str | None:
    if publisher_id is None:
        return None
    status: str | None = await session.scalar(
        select(BillingAccount.status).where(BillingAccount.publisher_id == publisher_id)
    )
    return status


def check_change_allowed(status: str | None, path: str) -> None:
    if status == "restricted" and not path.startswith(ALWAYS_ALLOWED):
        raise PaymentRequired(
            "this account is restricted until its overdue invoice is paid; "
            "pay or update the payment method on the billing page (/billing)"
        )
