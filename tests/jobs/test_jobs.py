"""Scheduled jobs on real PostgreSQL: one run at a time, one success per period, every run
recorded with its outcome and counts, failures kept with their error, and the procrastinate
worker executing a periodic trigger."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from apex_mediation.db.models import JobRun
from apex_mediation.jobs import registry
from apex_mediation.jobs.registry import Job
from apex_mediation.jobs.runner import UnknownJob, run_job
from apex_mediation.jobs.worker import QUEUE, make_app
from apex_mediation.services import Services
from tests.helpers import Tenant

_HOURS = itertools.count()


@pytest.fixture
def hour() -> Iterator[dt.datetime]:
    """An hour no other test uses (the jobs' periods are hours here)."""
    yield dt.datetime(2300, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=next(_HOURS))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """A job of the tests' own in the registry: it waits a little and counts its runs."""
    seen: list[bool] = []

    async def work(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
        seen.append(dry_run)
        await asyncio.sleep(0.2)
        if now.minute == 59:
            raise RuntimeError("the work failed at minute 59")
        return {"items": 3}

    # Its cron fires once a year: the worker's own periodic deferrer (which defers the latest
    # tick when it starts) never triggers it during a test.
    monkeypatch.setitem(
        registry.JOBS, "test_job", Job("test_job", "a test job", "0 0 1 1 *", "hour", work)
    )
    yield seen


async def _runs(services: Services, period: str) -> list[JobRun]:
    async with services.postgres.session() as session:
        return list(
            await session.scalars(
                select(JobRun)
                .where(JobRun.job == "test_job", JobRun.period_key == period)
                .order_by(JobRun.started_at)
            )
        )


async def test_a_period_succeeds_once_and_every_run_is_recorded(
    services: Services, calls: list[bool], hour: dt.datetime
) -> None:
    dry = await run_job(services, "test_job", now=hour, dry_run=True, trigger="cli")
    assert dry.outcome == "ok" and dry.dry_run
    first = await run_job(services, "test_job", now=hour)
    assert first.outcome == "ok" and first.counts == {"items": 3}
    again = await run_job(services, "test_job", now=hour + dt.timedelta(minutes=30))
    assert (again.outcome, again.error) == ("skipped", "this period is already done")
    assert calls == [True, False]
    runs = await _runs(services, hour.strftime("%Y-%m-%dT%H"))
    assert [(r.outcome, r.dry_run, r.trigger) for r in runs] == [
        ("ok", True, "cli"),
        ("ok", False, "schedule"),
    ]
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in runs)


async def test_a_job_never_runs_twice_at_once(
    services: Services, calls: list[bool], hour: dt.datetime
) -> None:
    both = await asyncio.gather(
        run_job(services, "test_job", now=hour), run_job(services, "test_job", now=hour)
    )
    assert sorted(r.outcome for r in both) == ["ok", "skipped"]
    skipped = next(r for r in both if r.outcome == "skipped")
    assert skipped.error in ("already running elsewhere", "this period is already done")
    assert calls == [False]


async def test_a_failure_is_recorded_with_its_error_and_can_be_retried(
    services: Services, calls: list[bool], hour: dt.datetime
) -> None:
    failing = hour.replace(minute=59)
    failed = await run_job(services, "test_job", now=failing)
    assert failed.outcome == "failed" and "minute 59" in (failed.error or "")
    retried = await run_job(services, "test_job", now=hour)  # the same hour, not done yet
    assert retried.outcome == "ok"
    runs = await _runs(services, hour.strftime("%Y-%m-%dT%H"))
    assert [r.outcome for r in runs] == ["failed", "ok"]


async def test_an_unknown_job_is_named(services: Services) -> None:
    with pytest.raises(UnknownJob, match="ai_review"):
        await run_job(services, "no_such_job")


async def test_the_worker_runs_a_periodic_trigger(
    services: Services, calls: list[bool], hour: dt.datetime
) -> None:
    app = make_app(services, ["test_job"])  # the real jobs' ticks stay out of this test
    async with app.open_async():
        task = app.tasks["apex.jobs.test_job"]
        await task.defer_async(timestamp=int(hour.timestamp()))
        await asyncio.wait_for(
            app.run_worker_async(queues=[QUEUE], wait=False, install_signal_handlers=False),
            timeout=30,
        )
    runs = await _runs(services, hour.strftime("%Y-%m-%dT%H"))
    assert [(r.outcome, r.trigger) for r in runs] == [("ok", "schedule")]
    assert calls == [False]


async def test_the_sales_job_dry_run_writes_and_sends_nothing(
    services: Services, tenant: Tenant
) -> None:
    from sqlalchemy import func

    from apex_mediation.db.models import NotificationOutbox, SalesTouchpoint

    async def written() -> tuple[int, int]:
        async with services.postgres.session() as session:
            touchpoints = await session.scalar(select(func.count()).select_from(SalesTouchpoint))
            queued = await session.scalar(select(func.count()).select_from(NotificationOutbox))
            return int(touchpoints or 0), int(queued or 0)

    before = await written()
    run = await run_job(services, "sales", dry_run=True, trigger="cli")
    assert run.outcome == "ok", run.error
    assert run.counts["publishers"] >= 1 and run.counts.get("errors", 0) == 0
    assert run.counts.get("would_email", 0) >= 1  # the publishers signed up today are on day 0
    assert await written() == before
