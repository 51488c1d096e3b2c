"""The operator's jobs page: each scheduled job with its last run, last success and outcome
counts, the recent runs (all jobs, or one with `?job=`), and a form to run a job now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.inputs import form_text
from apex_mediation.console.rendering import ConsoleRoute, redirect, render
from apex_mediation.console.viewer import OperatorDep
from apex_mediation.db.models import JOB_OUTCOMES, JobRun
from apex_mediation.jobs.registry import JOBS, Job
from apex_mediation.jobs.runner import run_job

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/operator/jobs"
RECENT_RUNS = 50
COUNTS_DAYS = 30
DONE = {
    "ok": "it succeeded.",
    "failed": "it failed; its error is in the runs below.",
    "skipped": "it was skipped: this period is already done, not due yet, or running "
    "elsewhere (a dry run always runs).",
    "running": "it is still running.",
}


@dataclass(frozen=True)
class JobSummary:
    job: Job
    last_run: JobRun | None
    last_success: JobRun | None  # the last real (not dry) run that succeeded
    outcomes: dict[str, int]  # over the last COUNTS_DAYS days


# -- input -----------------------------------------------------------------------------------


def parse_job(name: str) -> str:
    if name not in JOBS:
        raise InvalidInput(f"no job named \u201c{name}\u201d; jobs: {', '.join(JOBS)}", field="job")
    return name


def parse_dry_run(value: str) -> bool:
    """A checkbox: "on" when ticked, absent otherwise."""
    if value not in ("", "on"):
        raise InvalidInput("on, or left out", field="dry_run")
    return value == "on"


# -- the page's figures ----------------------------------------------------------------------


async def _latest(session: AsyncSession, *where: Any) -> dict[str, JobRun]:
    """The newest run of each job matching `where` (DISTINCT ON job)."""
    rows = await session.scalars(
        select(JobRun)
        .where(*where)
        .ext(distinct_on(JobRun.job))
        .order_by(JobRun.job, JobRun.started_at.desc())
    )
    return {run.job: run for run in rows}


async def _outcomes(session: AsyncSession, since: dt.datetime) -> dict[str, dict[str, int]]:
    rows = await session.execute(
        select(JobRun.job, JobRun.outcome, func.count())
        .where(JobRun.started_at >= since)
        .group_by(JobRun.job, JobRun.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for job, outcome, n in rows.all():
        counts.setdefault(job, {})[outcome] = n
    return counts


async def summaries(session: AsyncSession, now: dt.datetime) -> list[JobSummary]:
    last = await _latest(session)
    succeeded = await _latest(session, JobRun.outcome == "ok", JobRun.dry_run.is_(False))
    outcomes = await _outcomes(session, now - dt.timedelta(days=COUNTS_DAYS))
    return [
        JobSummary(job, last.get(name), succeeded.get(name), outcomes.get(name, {}))
        for name, job in JOBS.items()
    ]


async def recent(session: AsyncSession, job: str | None, limit: int) -> list[JobRun]:
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(await session.scalars(query))


def flash(job: str, outcome: str, dry_run: bool) -> str | None:
    if job not in JOBS or outcome not in DONE:
        return None
    return f"Ran {job}{' (dry run)' if dry_run else ''}: {DONE[outcome]}"


# -- routes ----------------------------------------------------------------------------------


@router.get(PAGE)
async def jobs(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    query = request.query_params
    chosen = parse_job(query["job"]) if query.get("job") else None
    context = {
        "viewer": viewer,
        "jobs": await summaries(session, dt.datetime.now(dt.UTC)),
        "runs": await recent(session, chosen, RECENT_RUNS),
        "chosen": chosen,
        "outcomes": JOB_OUTCOMES,
        "counts_days": COUNTS_DAYS,
        "flash": flash(query.get("job", ""), query.get("done", ""), query.get("dry") == "on"),
        "utc": dt.UTC,
    }
    return render(request, "operator/jobs.html", context)


@router.post(f"{PAGE}/run")
async def run_now(
    request: Request, viewer: OperatorDep, session: SessionDep, services: ServicesDep
) -> Response:
    data = await request.form()
    name = parse_job(form_text(data, "name"))
    dry_run = parse_dry_run(form_text(data, "dry_run"))
    # The request is audited whatever the run does; the row commits with this request.
    await audit.record(
        session, viewer.actor, "jobs.run_requested", "job", name, details={"dry_run": dry_run}
    )
    # The job runs inside the request, so the operator waits for it: acceptable for a rare,
    # deliberate action, and the result can be shown at once. The runner's lock still keeps it
    # from overlapping the worker's run.
    run = await run_job(services, name, dry_run=dry_run, trigger="console")
    params = {"job": name, "done": run.outcome, **({"dry": "on"} if dry_run else {})}
    return redirect(f"{PAGE}?{urlencode(params)}")
