"""Running a job: at most one at a time (a session-level advisory lock per job), at most one
success per period (checked first, and guaranteed by a partial unique index), every run
recorded — start, end, outcome, counts, error — for the operator."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from prometheus_client import Counter
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from apex_mediation.db.models import JobRun
from apex_mediation.jobs.registry import JOBS, Job
from apex_mediation.services import Services
from apex_mediation.stores.postgres import Postgres

# Runs this process finished, by job and outcome (ok, failed, skipped): the JobFailed alert.
# The label is `task`: Prometheus gives `job` to the scrape target.
runs_total = Counter(
    "job_runs_total", "Scheduled job runs finished, by outcome", ["task", "outcome"]
)

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 1000


class UnknownJob(LookupError):
    pass


def _lock_key(job: Job) -> int:
    digest = hashlib.sha256(f"apex-job:{job.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _record(services: Services, **values: Any) -> JobRun:
    async with services.postgres.session() as session:
        run = JobRun(**values)
        session.add(run)
        await session.commit()
        return run


async def _finish(services: Services, run: JobRun, **values: Any) -> None:
    async with services.postgres.session() as session:
        await session.execute(
            update(JobRun).where(JobRun.id == run.id).values(finished_at=func.now(), **values)
        )
        await session.commit()
    runs_total.labels(run.job, str(values["outcome"])).inc()


async def run_job(
    services: Services,
    name: str,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    trigger: str = "schedule",
) -> JobRun:
    try:
        job = JOBS[name]
    except KeyError:
        raise UnknownJob(f"no job named {name!r}; jobs: {', '.join(JOBS)}") from None
    now = now or dt.datetime.now(dt.UTC)
    period = job.period_key(services.settings, now)
    base = {"job": job.name, "period_key": period, "trigger": trigger, "dry_run": dry_run}
    if not dry_run:
        async with services.postgres.session() as session:
            done = await session.scalar(
                select(JobRun.id).where(
                    JobRun.job == job.name,
                    JobRun.period_key == period,
                    JobRun.outcome == "ok",
                    JobRun.dry_run.is_(False),
                )
            )
        if done is not None:
            return JobRun(**base, outcome="skipped", error="this period is already done")
        if not job.due(services.settings, now):
            return JobRun(**base, outcome="skipped", error="not due yet in this period")
    async with services.postgres.engine.connect() as lock:
        if not await lock.scalar(select(func.pg_try_advisory_lock(_lock_key(job)))):
            return await _record(
                services, **base, outcome="skipped", error="already running elsewhere",
                finished_at=now,
            )  # fmt: skip
        try:
            run = await _record(services, **base, outcome="running")
            try:
                counts = await job.work(services, now, dry_run)
            except Exception as exc:
                log.exception("job %s failed", job.name)
                await _finish(services, run, outcome="failed", error=str(exc)[:MAX_ERROR_CHARS])
                run.outcome, run.error = "failed", str(exc)[:MAX_ERROR_CHARS]
                return run
            try:
                await _finish(services, run, outcome="ok", counts=counts)
            except IntegrityError:  # another process completed this period meanwhile
                await _finish(services, run, outcome="skipped", counts=counts,
                              error="this period was completed by another run")  # fmt: skip
                run.outcome = "skipped"
                return run
            run.outcome, run.counts = "ok", counts
            return run
        finally:
            await lock.scalar(select(func.pg_advisory_unlock(_lock_key(job))))


async def recent_runs(postgres: Postgres, limit: int = 50) -> list[JobRun]:
    async with postgres.session() as session:
        return list(
            await session.scalars(select(JobRun).order_by(JobRun.started_at.desc()).limit(limit))
        )
