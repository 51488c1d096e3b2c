"""Dunning: what happens after a payment fails.

A failed payment opens a case (one per invoice) and marks the account past due. The payment is
retried on the configured days after the failure (APEX_DUNNING_RETRY_DAYS, 3, 5 and 7 by
default), each failure emailed with the date access will be restricted; when the grace period
(APEX_DUNNING_GRACE_DAYS) ends unpaid, console access is restricted (read-only, with a banner;
ads keep serving, since the publisher's revenue pays the invoice). A payment, by retry or
webhook or from the Billing Portal, closes the case and restores everything. Every step is
audit-logged and emailed through the outbox, with dedupe keys so a step replayed never mails
twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.identity import Actor
from apex_mediation.billing import invoicing, plans
from apex_mediation.billing.money import format_cents
from apex_mediation.billing.stripe_gateway import StripeGateway, StripeUnavailable
from apex_mediation.db.models import BillingAccount, DunningCase, Invoice
from apex_mediation.notify import outbox
from apex_mediation.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    retry_days: tuple[int, ...]
    grace_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        try:
            days = tuple(
                sorted(int(d) for d in settings.dunning_retry_days.split(",") if d.strip())
            )
        except ValueError as exc:
            raise ValueError(
                "APEX_DUNNING_RETRY_DAYS must be whole days separated by commas, e.g. 3,5,7"
            ) from exc
        return cls(days, max(settings.dunning_grace_days, max(days, default=0)))


@dataclass
class Progress:
    retried: int = 0
    recovered: int = 0
    restricted: int = 0


def _billing_link(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + "/billing"


def _context(settings: Settings, invoice: Invoice, case: DunningCase) -> dict[str, object]:
    return {
        "invoice_number": invoice.number,
        "amount": format_cents(invoice.total_cents),
        "period": f"{invoice.period_start:%B %Y}",
        "restrict_on": f"{case.grace_ends_at:%-d %B %Y}",
        "billing_url": _billing_link(settings),
        "hosted_invoice_url": invoice.hosted_invoice_url,
    }


async def _record_step(
    session: AsyncSession,
    settings: Settings,
    invoice: Invoice,
    case: DunningCase,
    action: str,
    template: str,
    step: str,
    *,
    audit_facts: dict[str, Any],
    extra: dict[str, object] | None = None,
) -> None:
    """One dunning step's audit row and its email to the owners and admins (transactional:
    sent whatever their preferences; once per step, by its dedupe key)."""
    await audit.record(
        session,
        Actor.system(invoice.publisher_id),
        action,
        "invoice",
        invoice.id,
        publisher_id=invoice.publisher_id,
        **audit_facts,
    )
    await outbox.notify_publisher(
        session,
        settings,
        invoice.publisher_id,
        template=template,
        context={**_context(settings, invoice, case), **(extra or {})},
        category="billing",
        transactional=True,
        dedupe_key=f"dunning:{case.id}:{step}",
    )


async def _set_status(
    session: AsyncSession, publisher_id: uuid.UUID, status: str, now: dt.datetime
) -> str | None:
    account = await plans.get_account(session, publisher_id)
    if account is None or account.status == status:
        return None
    before = account.status
    account.status = status
    account.updated_at = now
    return before


async def open_case(
    session: AsyncSession,
    settings: Settings,
    invoice: Invoice,
    reason: str,
    now: dt.datetime,
) -> DunningCase | None:
    """Start dunning for an invoice whose payment failed (idempotent: one case per invoice;
    a paid invoice never starts one, whatever order the news arrives in)."""
    existing = await session.scalar(select(DunningCase).where(DunningCase.invoice_id == invoice.id))
    if existing is not None or invoice.status == "paid":
        return existing
    policy = Policy.from_settings(settings)
    first = policy.retry_days[0] if policy.retry_days else policy.grace_days
    case = DunningCase(
        publisher_id=invoice.publisher_id,
        invoice_id=invoice.id,
        started_at=now,
        step=0,
        next_action_at=now + dt.timedelta(days=first),
        grace_ends_at=now + dt.timedelta(days=policy.grace_days),
    )
    session.add(case)
    await session.flush()
    before = await _set_status(session, invoice.publisher_id, "past_due", now)
    await _record_step(
        session,
        settings,
        invoice,
        case,
        "billing.dunning_started",
        "billing/payment_failed",
        "started",
        audit_facts={
            "before": {"status": before},
            "after": {"status": "past_due"},
            "details": {
                "reason": reason[:200],
                "grace_ends_at": case.grace_ends_at.isoformat(),
            },
        },
        extra={"reason": reason[:200]},
    )
    return case


async def recover(
    session: AsyncSession, settings: Settings, invoice: Invoice, now: dt.datetime
) -> bool:
    """Close the invoice's open case after payment and restore the account; True if closed."""
    case = await session.scalar(
        select(DunningCase).where(
            DunningCase.invoice_id == invoice.id, DunningCase.outcome == "open"
        )
    )
    if case is None:
        return False
    case.outcome = "recovered"
    case.resolved_at = now
    case.next_action_at = None
    await session.flush()
    still_open = await session.scalar(
        select(DunningCase.id).where(
            DunningCase.publisher_id == invoice.publisher_id, DunningCase.outcome == "open"
        )
    )
    before = None if still_open else await _set_status(session, invoice.publisher_id, "active", now)
    await _record_step(
        session,
        settings,
        invoice,
        case,
        "billing.dunning_recovered",
        "billing/payment_recovered",
        "recovered",
        audit_facts={
            "details": {
                "step": case.step,
                "was_restricted": case.restricted_at is not None,
                "status_before": before,
            }
        },
    )
    return True


async def _restrict(
    session: AsyncSession, settings: Settings, case: DunningCase, invoice: Invoice, now: dt.datetime
) -> None:
    case.restricted_at = now
    case.next_action_at = None
    before = await _set_status(session, case.publisher_id, "restricted", now)
    await _record_step(
        session,
        settings,
        invoice,
        case,
        "billing.access_restricted",
        "billing/account_restricted",
        "restricted",
        audit_facts={"before": {"status": before}, "after": {"status": "restricted"}},
    )


async def advance(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway | None,
    now: dt.datetime,
) -> Progress:
    """Take every due step: retry payments whose day has come, restrict after the grace period.
    Idempotent; run by the billing cycle (and by `apex billing run`)."""
    policy = Policy.from_settings(settings)
    progress = Progress()
    due = list(
        await session.scalars(
            select(DunningCase)
            .where(DunningCase.outcome == "open", DunningCase.next_action_at <= now)
            .order_by(DunningCase.next_action_at)
            .with_for_update(skip_locked=True)
        )
    )
    for case in due:
        invoice = await session.get(Invoice, case.invoice_id)
        assert invoice is not None  # the foreign key cascades
        if invoice.status == "paid":  # paid by a path that did not close the case
            progress.recovered += await recover(session, settings, invoice, now)
            continue
        if case.step < len(policy.retry_days):
            case.step += 1
            decline = await _retry(session, gateway, invoice, case.step, now)
            if decline is None and invoice.status == "paid":
                progress.recovered += await recover(session, settings, invoice, now)
                continue
            progress.retried += 1
            following = (
                case.started_at + dt.timedelta(days=policy.retry_days[case.step])
                if case.step < len(policy.retry_days)
                else case.grace_ends_at
            )
            case.next_action_at = max(following, now)
            await _record_step(
                session,
                settings,
                invoice,
                case,
                "billing.payment_retried",
                "billing/payment_retry_failed",
                f"retry:{case.step}",
                audit_facts={"details": {"step": case.step, "outcome": decline or "not attempted"}},
                extra={"reason": decline or "", "attempt": case.step},
            )
        elif now >= case.grace_ends_at and case.restricted_at is None:
            await _restrict(session, settings, case, invoice, now)
            progress.restricted += 1
        else:
            case.next_action_at = case.grace_ends_at
    return progress


async def _retry(
    session: AsyncSession,
    gateway: StripeGateway | None,
    invoice: Invoice,
    attempt: int,
    now: dt.datetime,
) -> str | None:
    if gateway is None:
        return "Stripe is not configured"
    try:
        return await invoicing.collect(session, gateway, invoice, attempt, now)
    except StripeUnavailable as exc:
        log.warning("payment retry for invoice %s could not reach Stripe: %s", invoice.number, exc)
        return "the payment provider could not be reached; we will try again"


async def open_case_of(session: AsyncSession, publisher_id: uuid.UUID) -> DunningCase | None:
    case: DunningCase | None = await session.scalar(
        select(DunningCase)
        .where(DunningCase.publisher_id == publisher_id, DunningCase.outcome == "open")
        .order_by(DunningCase.started_at)
        .limit(1)
    )
    return case


def is_restricted(account: BillingAccount | None) -> bool:
    return account is not None and account.status == "restricted"
