"""Account erasure: everything of a publisher is deleted or anonymised, except what billing law
requires to be kept — its invoices with their lines and the billing identity printed on them
(the publisher's name, billing email and Stripe customer id) — for the configured number of
years. The audit log, append-only, keeps its rows until the retention window removes them;
the privacy requests stay as the proof of this erasure. The receipt lists each store's removed
rows and what was kept, why and until when."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import AuthenticationFailed, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import verify_password
from apex_mediation.compliance import analytics_sql, requests
from apex_mediation.compliance.export import file_path
from apex_mediation.db.models import (
    AuditLog,
    Base,
    BillingAccount,
    Invoice,
    InvoiceLine,
    Membership,
    NotificationOutbox,
    PrivacyRequest,
    Publisher,
    User,
)
from apex_mediation.services import Services

# Delivers the ingest log's pending records to ClickHouse (the serving process's shipper).
Flush = Callable[[], Awaitable[object]]

# Tables with a publisher_id that erasure keeps; every other such table is emptied of the
# publisher's rows (a table added later is covered without a change here).
KEPT_TABLES = frozenset(
    {"publishers", "billing_accounts", "invoices", "audit_logs", "privacy_requests"}
)


async def _verify_owner(session: AsyncSession, actor: Actor, password: str) -> uuid.UUID:
    actor.require_role("owner")
    if actor.kind != "user" or actor.id is None:
        raise PermissionDenied("an account is erased by its owner, logged in to the console")
    user = await session.get(User, uuid.UUID(actor.id))
    if user is None or not verify_password(user.password_hash, password):
        raise AuthenticationFailed("password is incorrect", field="password")
    return actor.tenant()


async def _erase_members(session: AsyncSession, publisher_id: uuid.UUID) -> dict[str, int]:
    """Members who belong to no other publisher are deleted with their sessions, tokens and
    preferences (cascades); the others only lose their membership."""
    members = list(
        await session.scalars(
            select(Membership.user_id).where(Membership.publisher_id == publisher_id)
        )
    )
    elsewhere = set(
        await session.scalars(
            select(Membership.user_id).where(
                Membership.user_id.in_(members), Membership.publisher_id != publisher_id
            )
        )
    )
    operators = set(
        await session.scalars(
            select(User.id).where(User.id.in_(members), User.is_platform_operator.is_(True))
        )
    )
    alone = [m for m in members if m not in elsewhere and m not in operators]
    outbox = await session.execute(
        delete(NotificationOutbox).where(NotificationOutbox.user_id.in_(alone))
    )
    removed = await session.execute(delete(User).where(User.id.in_(alone)))
    return {
        "users": requests.rowcount(removed),
        "memberships_of_remaining_users": len(members) - len(alone),
        "notification_outbox_of_users": requests.rowcount(outbox),
    }


async def _erase_postgres(session: AsyncSession, publisher_id: uuid.UUID) -> dict[str, int]:
    removed = await _erase_members(session, publisher_id)
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in KEPT_TABLES or "publisher_id" not in table.c:
            continue
        result = await session.execute(delete(table).where(table.c.publisher_id == publisher_id))
        removed[table.name] = removed.get(table.name, 0) + requests.rowcount(result)
    await session.execute(
        update(Publisher)
        .where(Publisher.id == publisher_id)
        .values(status="suspended", stripe_subscription_id=None, updated_at=func.now())
    )
    await session.execute(
        update(BillingAccount)
        .where(BillingAccount.publisher_id == publisher_id)
        .values(
            status="canceled",
            has_payment_method=False,
            stripe_subscription_status=None,
            enterprise_rate_ppm=None,
            updated_at=func.now(),
        )
    )
    return removed


async def _erase_clickhouse(services: Services, publisher_id: uuid.UUID) -> dict[str, int]:
    removed: dict[str, int] = {}
    params = {"publisher_id": publisher_id}
    for table in analytics_sql.TABLES:
        rows = await services.analytics.query(analytics_sql.count_publisher(table), params)
        removed[table.name] = int(rows[0]["n"]) if rows else 0
        if removed[table.name]:
            await services.analytics.command(analytics_sql.delete_publisher(table), params)
    return removed


async def _erase_export_files(
    session: AsyncSession, services: Services, publisher_id: uuid.UUID
) -> int:
    ids = list(
        await session.scalars(
            select(PrivacyRequest.id).where(
                PrivacyRequest.publisher_id == publisher_id,
                PrivacyRequest.kind == "export",
                PrivacyRequest.file_name.is_not(None),
            )
        )
    )
    await session.execute(
        update(PrivacyRequest)
        .where(PrivacyRequest.id.in_(ids), PrivacyRequest.status == "completed")
        .values(status="expired")
    )
    removed = 0
    for request_id in ids:
        path = file_path(services, request_id)
        if path.exists():
            path.unlink()
            removed += 1
    return removed


async def _kept(
    session: AsyncSession, services: Services, publisher_id: uuid.UUID, now: dt.datetime
) -> list[dict[str, Any]]:
    invoices = await session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.publisher_id == publisher_id)
    )
    lines = await session.scalar(
        select(func.count())
        .select_from(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.publisher_id == publisher_id)
    )
    audit_rows = await session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.publisher_id == publisher_id)
    )
    latest = await session.scalar(
        select(func.max(Invoice.period_end)).where(Invoice.publisher_id == publisher_id)
    )
    years = services.settings.billing_retention_years
    # Counted, as commercial codes do, from the end of the year of the latest invoice.
    billing_until = dt.date((latest or now.date()).year + years, 12, 31).isoformat()
    audit_days = services.settings.retention_audit_logs_days
    return [
        {
            "data": "invoices and invoice lines",
            "rows": {"invoices": invoices or 0, "invoice_lines": lines or 0},
            "reason": "billing and tax law require invoices to be kept",
            "retention": f"{years} years",
            "kept_until": billing_until,
        },
        {
            "data": "billing identity: the publisher's name, billing email and Stripe customer id",
            "reason": "printed on the kept invoices, which must stay readable",
            "retention": f"{years} years",
            "kept_until": billing_until,
        },
        {
            "data": "audit log entries",
            "rows": {"audit_logs": audit_rows or 0},
            "reason": "the append-only security record; it holds digests and truncated "
            "addresses, no personal content",
            "retention": f"{audit_days} days from each entry, then removed by the retention job",
        },
        {
            "data": "privacy request records and their receipts",
            "reason": "proof that this erasure was asked for and carried out",
        },
    ]


async def erase_account(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    password: str,
    *,
    flush_ingest: Flush | None = None,
) -> PrivacyRequest:
    """Erase the actor's publisher in the caller's transaction (ClickHouse and files first:
    should the commit fail, a new request finishes the job, every step being repeatable).
    The owner confirms with their password."""
    publisher_id = await _verify_owner(session, actor, password)
    request = await requests.create(session, actor, "account_erasure", publisher_id)
    request.status, request.started_at = "running", dt.datetime.now(dt.UTC)
    await audit.record(
        session, actor, "privacy.account_erasure_requested", "privacy_request", request.id
    )
    if flush_ingest is not None:  # what this process acknowledged lands first, then goes
        await flush_ingest()
    clickhouse = await _erase_clickhouse(services, publisher_id)
    files = await _erase_export_files(session, services, publisher_id)
    postgres = await _erase_postgres(session, publisher_id)
    now = dt.datetime.now(dt.UTC)
    request.receipt = {
        "request_id": str(request.id),
        "publisher_id": str(publisher_id),
        "completed_at": now.isoformat(),
        "removed": {"postgres": postgres, "clickhouse": clickhouse, "export_files": files},
        "anonymised": {
            "publisher": "suspended; subscription reference removed",
            "billing_account": "canceled; payment method and contract rate removed",
        },
        "kept": await _kept(session, services, publisher_id, now),
        "external": "the customer record at Stripe (payment processor) follows Stripe's own "
        "retention; the operator deletes it there on request",
    }
    request.status, request.completed_at = "completed", now
    await audit.record(
        session, Actor.system(publisher_id), "privacy.account_erased", "privacy_request",
        request.id,
        details={"removed_rows": sum(postgres.values()) + sum(clickhouse.values())},
    )  # fmt: skip
    await session.flush()
    return request
