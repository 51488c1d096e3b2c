"""The data export of a publisher: a zip of JSON and CSV files, built by the `privacy_requests`
job (or in process) and downloaded through a signed, expiring link.

Every dataset names its columns: a column added to a table later stays out of the export until
it is listed here, so a secret cannot slip in. Password hashes, network credentials, API key
hashes and session tokens are never listed."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from apex_mediation.accounts import audit
from apex_mediation.accounts.identity import Actor
from apex_mediation.compliance import analytics_sql, requests
from apex_mediation.compliance.links import LinkRejected
from apex_mediation.db.models import (
    ApiKey,
    App,
    AuditLog,
    BillingAccount,
    Invoice,
    InvoiceLine,
    Membership,
    NetworkAccount,
    Placement,
    PlacementLine,
    PrivacyRequest,
    Publisher,
    UsageRecord,
    User,
)
from apex_mediation.services import Services

EXCLUDED = (
    "password hashes and two-factor secrets of members",
    "network account credentials (stored encrypted; only their names are exported)",
    "API key secrets and their hashes (metadata only)",
    "console session tokens",
)


@dataclass(frozen=True)
class Dataset:
    name: str
    rows: list[dict[str, Any]]


def exports_dir(services: Services) -> Path:
    return services.settings.data_dir / "exports"


def file_path(services: Services, request_id: uuid.UUID) -> Path:
    return exports_dir(services) / f"{request_id}.zip"


def _columns(*columns: InstrumentedAttribute[Any]) -> list[InstrumentedAttribute[Any]]:
    return list(columns)


async def _rows(
    session: AsyncSession, statement: Executable, labels: Sequence[str]
) -> list[dict[str, Any]]:
    result = await session.execute(statement)
    return [dict(zip(labels, row, strict=True)) for row in result.all()]


async def _select(
    session: AsyncSession, columns: list[InstrumentedAttribute[Any]], *where: Any
) -> list[dict[str, Any]]:
    statement = select(*columns).where(*where)
    return await _rows(session, statement, [c.key for c in columns])


async def collect(services: Services, publisher_id: uuid.UUID) -> list[Dataset]:
    """Everything the export holds, read in one transaction (a consistent picture)."""
    async with services.postgres.session() as session:
        publisher = await _select(
            session,
            _columns(
                Publisher.id, Publisher.name, Publisher.status, Publisher.created_at,
                Publisher.updated_at, Publisher.stripe_customer_id,
            ),
            Publisher.id == publisher_id,
        )  # fmt: skip
        billing = await _select(
            session,
            _columns(
                BillingAccount.plan, BillingAccount.status, BillingAccount.trial_started_at,
                BillingAccount.trial_ends_at, BillingAccount.billing_email,
                BillingAccount.has_payment_method, BillingAccount.created_at,
            ),
            BillingAccount.publisher_id == publisher_id,
        )  # fmt: skip
        member_columns = [User.id, User.email, User.display_name, Membership.role,
                          Membership.created_at, User.last_login_at]  # fmt: skip
        members = await _rows(
            session,
            select(*member_columns)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.publisher_id == publisher_id)
            .order_by(User.email),
            ["user_id", "email", "display_name", "role", "member_since", "last_login_at"],
        )
        apps = await _select(
            session,
            _columns(
                App.id, App.name, App.platform, App.bundle_id, App.domain, App.allowed_origins,
                App.test_mode, App.status, App.created_at, App.updated_at,
            ),
            App.publisher_id == publisher_id,
        )  # fmt: skip
        placements = await _select(
            session,
            _columns(
                Placement.id, Placement.app_id, Placement.name, Placement.format,
                Placement.floor_cpm_micros, Placement.country_floors, Placement.timeout_ms,
                Placement.auction_type, Placement.refresh_interval_s, Placement.enabled,
                Placement.fcap_per_hour, Placement.fcap_per_day, Placement.min_interval_s,
                Placement.created_at, Placement.updated_at,
            ),
            Placement.publisher_id == publisher_id,
        )  # fmt: skip
        line_columns = _columns(
            PlacementLine.id, PlacementLine.placement_id, PlacementLine.kind,
            PlacementLine.network, PlacementLine.network_account_id, PlacementLine.priority,
            PlacementLine.ecpm_micros, PlacementLine.params, PlacementLine.enabled,
        )  # fmt: skip
        lines = await _rows(
            session,
            select(*line_columns)
            .join(Placement, Placement.id == PlacementLine.placement_id)
            .where(Placement.publisher_id == publisher_id),
            [c.key for c in line_columns],
        )
        networks = await _select(
            session,
            _columns(
                NetworkAccount.id, NetworkAccount.network, NetworkAccount.name,
                NetworkAccount.bid_adjustment_ppm, NetworkAccount.enabled,
                NetworkAccount.created_at, NetworkAccount.updated_at,
            ),
            NetworkAccount.publisher_id == publisher_id,
        )  # fmt: skip
        keys = await _select(
            session,
            _columns(
                ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.scopes, ApiKey.app_id,
                ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at,
            ),
            ApiKey.publisher_id == publisher_id,
        )  # fmt: skip
        invoice_columns = _columns(
            Invoice.id, Invoice.number, Invoice.period_start, Invoice.period_end,
            Invoice.status, Invoice.currency, Invoice.revenue_micros,
            Invoice.trial_revenue_micros, Invoice.fee_micros, Invoice.total_cents,
            Invoice.amount_paid_cents, Invoice.created_at, Invoice.finalized_at, Invoice.due_at,
            Invoice.paid_at,
        )  # fmt: skip
        invoices = await _select(session, invoice_columns, Invoice.publisher_id == publisher_id)
        invoice_line_columns = _columns(
            InvoiceLine.invoice_id, InvoiceLine.position, InvoiceLine.band,
            InvoiceLine.lower_micros, InvoiceLine.upper_micros, InvoiceLine.rate_ppm,
            InvoiceLine.revenue_micros, InvoiceLine.fee_micros, InvoiceLine.amount_cents,
        )  # fmt: skip
        invoice_lines = await _rows(
            session,
            select(*invoice_line_columns)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.publisher_id == publisher_id),
            [c.key for c in invoice_line_columns],
        )
        usage = await _select(
            session,
            _columns(
                UsageRecord.period_start, UsageRecord.period_end,
                UsageRecord.mediated_revenue_micros, UsageRecord.impressions,
                UsageRecord.requests, UsageRecord.api_calls,
            ),
            UsageRecord.publisher_id == publisher_id,
        )  # fmt: skip
        audit_columns = _columns(
            AuditLog.id, AuditLog.occurred_at, AuditLog.actor_type, AuditLog.actor_id,
            AuditLog.action, AuditLog.object_type, AuditLog.object_id, AuditLog.ip_prefix,
            AuditLog.details,
        )  # fmt: skip
        audit_log = await _rows(
            session,
            select(*audit_columns)
            .where(AuditLog.publisher_id == publisher_id)
            .order_by(AuditLog.occurred_at, AuditLog.id),
            [c.key for c in audit_columns],
        )
        privacy = await _select(
            session,
            _columns(
                PrivacyRequest.id, PrivacyRequest.kind, PrivacyRequest.status,
                PrivacyRequest.requested_by, PrivacyRequest.requested_at,
                PrivacyRequest.completed_at,
            ),
            PrivacyRequest.publisher_id == publisher_id,
        )  # fmt: skip
    daily = await services.analytics.query(
        analytics_sql.DAILY_REPORT, {"publisher_id": publisher_id}
    )
    return [
        Dataset("publisher", publisher),
        Dataset("billing_account", billing),
        Dataset("members", members),
        Dataset("apps", apps),
        Dataset("placements", placements),
        Dataset("placement_lines", lines),
        Dataset("network_accounts", networks),
        Dataset("api_keys", keys),
        Dataset("invoices", invoices),
        Dataset("invoice_lines", invoice_lines),
        Dataset("usage", usage),
        Dataset("audit_log", audit_log),
        Dataset("privacy_requests", privacy),
        Dataset("reporting_daily", daily),
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | uuid.UUID):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


def _json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, indent=2, default=_plain, ensure_ascii=False).encode()


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: json.dumps(v, default=_plain) if isinstance(v, list | dict) else _plain(v)
                    for k, v in row.items()
                }
            )
    return out.getvalue().encode()


def write_zip(path: Path, datasets: list[Dataset], manifest: dict[str, Any]) -> tuple[str, int]:
    """Write the archive (readable by this user only); its sha256 and size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", _json([manifest]))
        for dataset in datasets:
            zf.writestr(f"{dataset.name}.json", _json(dataset.rows))
            zf.writestr(f"{dataset.name}.csv", _csv(dataset.rows))
    os.replace(partial, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest, path.stat().st_size


async def run(services: Services, request_id: uuid.UUID) -> bool:
    """Build a pending export; False if it was not pending (another run has it)."""
    if not await requests.claim(services.postgres, request_id):
        return False
    try:
        async with services.postgres.session() as session:
            request = await session.get(PrivacyRequest, request_id)
            if request is None or request.publisher_id is None:
                raise RuntimeError("the publisher of this export no longer exists")
            publisher_id = request.publisher_id
        datasets = await collect(services, publisher_id)
        now = dt.datetime.now(dt.UTC)
        counts = {d.name: len(d.rows) for d in datasets}
        manifest = {
            "publisher_id": str(publisher_id),
            "request_id": str(request_id),
            "generated_at": now.isoformat(),
            "files": [f"{d.name}.{ext}" for d in datasets for ext in ("json", "csv")],
            "counts": counts,
            "excluded": list(EXCLUDED),
        }
        path = file_path(services, request_id)
        digest, size = await asyncio.to_thread(write_zip, path, datasets, manifest)
        expires = now + dt.timedelta(hours=services.settings.export_link_ttl_hours)
        receipt = {**manifest, "sha256": digest, "bytes": size, "expires_at": expires.isoformat()}
        async with services.postgres.session() as session:
            await audit.record(
                session, Actor.system(publisher_id), "privacy.export_completed",
                "privacy_request", request_id, details={"bytes": size, "counts": counts},
            )  # fmt: skip
            await session.commit()
        await requests.complete(
            services.postgres, request_id, receipt,
            file_name=path.name, file_sha256=digest, file_bytes=size, expires_at=expires,
        )  # fmt: skip
    except Exception as exc:
        await requests.fail(services.postgres, request_id, f"{type(exc).__name__}: {exc}")
        raise
    return True


async def request_export(session: AsyncSession, actor: Actor) -> PrivacyRequest:
    """Record an owner's export request; the `privacy_requests` job builds it."""
    actor.require_role("owner")
    publisher_id = actor.tenant()
    request = await requests.create(session, actor, "export", publisher_id)
    await audit.record(session, actor, "privacy.export_requested", "privacy_request", request.id)
    return request


async def download_path(
    session: AsyncSession,
    services: Services,
    request_id: uuid.UUID,
    now: dt.datetime,
    ip: str | None = None,
) -> Path:
    """The archive behind a verified link, its download audited; LinkRejected (gone) when it
    no longer exists."""
    request = await session.get(PrivacyRequest, request_id)
    if request is None or request.kind != "export":
        raise LinkRejected("this export does not exist", expired=True)
    expired = request.expires_at is not None and request.expires_at <= now
    path = file_path(services, request.id)
    if request.status != "completed" or expired or not path.exists():
        raise LinkRejected("this export is no longer available; request a new one", expired=True)
    holder = Actor(kind="system", id=None, publisher_id=request.publisher_id, ip=ip)
    await audit.record(
        session, holder, "privacy.export_downloaded", "privacy_request", request.id,
        details={"via": "signed link"},
    )  # fmt: skip
    return path
