"""Retention: the daily job removes what is past each configured window — raw events, auction
logs, rollups, audit log rows, export files — records what it removed per store, and leaves
what is younger. The audit log stays append-only for everything else."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from apex_mediation.compliance import export, retention
from apex_mediation.db import migrate
from apex_mediation.db.models import AuditLog, JobRun, PrivacyRequest
from apex_mediation.jobs.runner import run_job
from apex_mediation.services import Services
from tests.reporting.data import auction, event

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def short(services: Services) -> Services:
    """The shared stores under short windows, so that test rows can be old enough without
    being past the tables' own TTLs."""
    windows = {
        "retention_raw_events_days": 30,
        "retention_auction_logs_days": 20,
        "retention_rollups_days": 45,
        "retention_audit_logs_days": 200,
        "retention_export_files_days": 7,
    }
    return dataclasses.replace(services, settings=services.settings.model_copy(update=windows))


async def _count(services: Services, sql: str, publisher: uuid.UUID) -> int:
    rows = await services.analytics.query(sql, {"p": publisher})
    return int(rows[0]["n"])


async def _seed(services: Services) -> uuid.UUID:
    publisher = uuid.uuid4()
    ids = {"app_id": uuid.uuid4(), "placement_id": uuid.uuid4()}
    await services.analytics.insert(
        "events", [event(publisher, at=_days_ago(days), **ids) for days in (60, 40, 10)]
    )
    await services.analytics.insert(
        "auctions", [auction(publisher, at=_days_ago(days), **ids) for days in (25, 10)]
    )
    async with services.postgres.session() as session:
        for days in (300, 100):
            session.add(AuditLog(occurred_at=_days_ago(days), actor_type="system",
                                 publisher_id=publisher, action="test.retention",
                                 object_type="test"))  # fmt: skip
        await session.commit()
    return publisher


async def _old_export(services: Services) -> uuid.UUID:
    async with services.postgres.session() as session:
        request = PrivacyRequest(kind="export", status="completed", requested_by="test",
                                 completed_at=_days_ago(8), file_name="x.zip")  # fmt: skip
        session.add(request)
        await session.commit()
    path = export.file_path(services, request.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK")
    return request.id


async def test_the_daily_job_removes_what_is_past_its_window(short: Services) -> None:
    publisher = await _seed(short)
    old_export = await _old_export(short)
    dry = await run_job(short, "retention", now=NOW, dry_run=True, trigger="test")
    assert dry.counts is not None and dry.counts["clickhouse.events"] >= 2
    assert await _count(short, "SELECT count() AS n FROM events WHERE publisher_id = {p:UUID}",
                        publisher) == 3  # fmt: skip

    run = await run_job(short, "retention", now=NOW, trigger="test")
    assert run.outcome == "ok", run.error
    counts = run.counts or {}
    assert counts["clickhouse.events"] >= 2 and counts["clickhouse.auctions"] >= 1
    assert counts["clickhouse.events_totals_hourly"] >= 1
    assert counts["postgres.audit_logs"] >= 1 and counts["files.exports"] >= 1

    events = "SELECT count() AS n FROM events WHERE publisher_id = {p:UUID}"
    auctions = "SELECT count() AS n FROM auctions WHERE publisher_id = {p:UUID}"
    rollup = "SELECT count() AS n FROM events_totals_hourly WHERE publisher_id = {p:UUID}"
    assert await _count(short, events, publisher) == 1  # 10 days old; 40 and 60 are gone
    assert await _count(short, auctions, publisher) == 1  # 10 days old; 25 is gone
    assert await _count(short, rollup, publisher) == 2  # 40 and 10 days old; 60 is gone
    async with short.postgres.session() as session:
        left = list(
            await session.scalars(
                select(AuditLog.occurred_at).where(AuditLog.publisher_id == publisher)
            )
        )
        assert left == [_days_ago(100)]
        expired = await session.get(PrivacyRequest, old_export)
        assert expired is not None and expired.status == "expired"
        recorded = await session.scalar(select(JobRun.counts).where(JobRun.id == run.id))
    assert recorded == counts
    assert not export.file_path(short, old_export).exists()

    again = await run_job(short, "retention", now=NOW + dt.timedelta(hours=1), trigger="test")
    assert (again.outcome, again.error) == ("skipped", "this period is already done")


async def test_rerunning_removes_nothing_more(short: Services) -> None:
    publisher = await _seed(short)
    first = await retention.run(short, NOW, dry_run=False)
    assert first["postgres.audit_logs"] >= 1
    second = await retention.run(short, NOW, dry_run=False)
    assert set(second.values()) == {0}
    events = "SELECT count() AS n FROM events WHERE publisher_id = {p:UUID}"
    assert await _count(short, events, publisher) == 1


@pytest.mark.parametrize(
    ("cutoff_days", "statement"),
    [
        (None, "DELETE FROM audit_logs WHERE action = 'test.guard'"),
        (400, "DELETE FROM audit_logs WHERE action = 'test.guard'"),  # rows are younger
        (10, "DELETE FROM audit_logs WHERE action = 'test.guard'"),  # cutoff under 180 days
        (400, "UPDATE audit_logs SET action = 'forged' WHERE action = 'test.guard'"),
        (400, "TRUNCATE audit_logs"),
    ],
)
def test_the_audit_log_stays_append_only_outside_retention(
    pg_url: str, cutoff_days: int | None, statement: str
) -> None:
    engine = create_engine(migrate.sync_url(pg_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_logs (occurred_at, actor_type, action, object_type) "
                "VALUES (now() - interval '190 days', 'system', 'test.guard', 'test')"
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        if cutoff_days is not None:
            conn.execute(
                text(
                    "SELECT set_config(:name, (now() - make_interval(days => :days))::text, true)"
                ),
                {"name": retention.AUDIT_CUTOFF_SETTING, "days": cutoff_days},
            )
        conn.execute(text(statement))
    with engine.begin() as conn:
        # The setting lasts for its transaction only: a later one is refused again.
        conn.execute(
            text("SELECT set_config(:name, (now() - interval '185 days')::text, true)"),
            {"name": retention.AUDIT_CUTOFF_SETTING},
        )
        deleted = conn.execute(text("DELETE FROM audit_logs WHERE action = 'test.guard'"))
        assert deleted.rowcount >= 1  # the sanctioned path: older than a cutoff ≥ 180 days
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_logs (occurred_at, actor_type, action, object_type) "
                "VALUES (now() - interval '190 days', 'system', 'test.guard', 'test')"
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_logs WHERE action = 'test.guard'"))
    engine.dispose()
