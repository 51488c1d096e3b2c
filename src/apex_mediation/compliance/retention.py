"""Retention: what is older than its window is removed, once a day, by the `retention` job.

Windows (settings, days): raw events and SDK telemetry, auction logs (auctions, bids,
receipts), reporting rollups, the audit log, export files. ClickHouse tables keep their own
TTLs as a backstop; this job applies the configured windows, which may be shorter.

The audit log is append-only; its trigger lets a DELETE through only inside a transaction
that has set `apex.audit_retention_cutoff` (transaction-local), for rows older than that
cutoff, and never for rows younger than 180 days. Only this module sets it."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, func, select, update

from apex_mediation.compliance import analytics_sql, requests
from apex_mediation.compliance.export import file_path
from apex_mediation.db.models import AuditLog, PrivacyRequest
from apex_mediation.services import Services
from apex_mediation.settings import Settings

log = logging.getLogger(__name__)
AUDIT_CUTOFF_SETTING = "apex.audit_retention_cutoff"


def windows(settings: Settings) -> dict[str, int]:
    return {
        "raw_events": settings.retention_raw_events_days,
        "auction_logs": settings.retention_auction_logs_days,
        "rollups": settings.retention_rollups_days,
        "audit_logs": settings.retention_audit_logs_days,
        "export_files": settings.retention_export_files_days,
    }


async def _clickhouse(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    days = windows(services.settings)
    counts: dict[str, int] = {}
    for table in analytics_sql.TABLES:
        cutoff = now - dt.timedelta(days=days[table.group])
        params = {"cutoff": cutoff}
        rows = await services.analytics.query(analytics_sql.count_older(table), params)
        found = int(rows[0]["n"]) if rows else 0
        if found and not dry_run:
            await services.analytics.command(analytics_sql.delete_older(table), params)
        counts[f"clickhouse.{table.name}"] = found
    return counts


async def _audit_logs(services: Services, now: dt.datetime, dry_run: bool) -> int:
    cutoff = now - dt.timedelta(days=services.settings.retention_audit_logs_days)
    async with services.postgres.session() as session:
        if dry_run:
            found = await session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.occurred_at < cutoff)
            )
            return found or 0
        await session.execute(
            select(func.set_config(AUDIT_CUTOFF_SETTING, cutoff.isoformat(), True))
        )
        result = await session.execute(delete(AuditLog).where(AuditLog.occurred_at < cutoff))
        await session.commit()
        return requests.rowcount(result)


async def _export_files(services: Services, now: dt.datetime, dry_run: bool) -> int:
    """Export archives past their window are deleted and their requests marked expired."""
    cutoff = now - dt.timedelta(days=services.settings.retention_export_files_days)
    async with services.postgres.session() as session:
        old = list(
            await session.scalars(
                select(PrivacyRequest.id).where(
                    PrivacyRequest.kind == "export",
                    PrivacyRequest.status == "completed",
                    PrivacyRequest.completed_at < cutoff,
                )
            )
        )
        if dry_run:
            return len(old)
        for request_id in old:
            file_path(services, request_id).unlink(missing_ok=True)
        await session.execute(
            update(PrivacyRequest).where(PrivacyRequest.id.in_(old)).values(status="expired")
        )
        await session.commit()
    return len(old)


async def run(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    """Remove what is past its window; the rows or files removed per store (found, on a dry
    run), which the job's record keeps."""
    counts = await _clickhouse(services, now, dry_run)
    counts["postgres.audit_logs"] = await _audit_logs(services, now, dry_run)
    counts["files.exports"] = await _export_files(services, now, dry_run)
    log.info(
        "retention %s: %s",
        "dry run" if dry_run else "removed",
        ", ".join(f"{store}={n}" for store, n in counts.items() if n) or "nothing",
    )
    return counts
