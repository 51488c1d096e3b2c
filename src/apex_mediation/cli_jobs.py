"""`apex jobs` and `apex worker`: run a scheduled job by hand (`--dry-run` computes without
sending or storing), list recent runs, or run the worker (for deployments with the API's
APEX_BACKGROUND_JOBS off)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer
from rich.console import Console

from apex_mediation.jobs.registry import JOBS
from apex_mediation.jobs.runner import UnknownJob, recent_runs, run_job
from apex_mediation.services import open_postgres_only, open_services
from apex_mediation.settings import get_settings

jobs = typer.Typer(help="Scheduled jobs: run one now, list recent runs.", no_args_is_help=True)
console = Console()


@jobs.command("list")
def list_jobs() -> None:
    """The jobs and their last runs."""

    async def show() -> None:
        postgres = await open_postgres_only(get_settings(), pool_size=1)
        try:
            runs = await recent_runs(postgres, 20)
        finally:
            await postgres.close()
        for job in JOBS.values():
            console.print(f"{job.name:<14} every {job.period} ({job.cron}): {job.description}")
        for run in runs:
            ended = f"{run.finished_at:%H:%M:%S}" if run.finished_at else "…"
            console.print(
                f"  {run.started_at:%Y-%m-%d %H:%M:%S}-{ended} {run.job} {run.period_key} "
                f"{run.outcome}{' (dry run)' if run.dry_run else ''} {run.counts or ''} "
                f"{run.error or ''}".rstrip()
            )

    asyncio.run(show())


@jobs.command("run")
def run(
    name: Annotated[str, typer.Argument(help=", ".join(JOBS))],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute, send nothing")] = False,
) -> None:
    """Run a job now (skipped when its period is already done, unless --dry-run)."""

    async def go() -> None:
        services = await open_services(get_settings())
        try:
            done = await run_job(services, name, dry_run=dry_run, trigger="cli")
        finally:
            await services.close()
        console.print(f"{done.job} {done.period_key}: {done.outcome} {done.counts or ''}")
        if done.error:
            console.print(f"  {done.error}")
        if done.outcome == "failed":
            raise typer.Exit(1)

    try:
        asyncio.run(go())
    except UnknownJob as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def worker(
    metrics_port: Annotated[
        int, typer.Option("--metrics-port", min=0, max=65535, help="/metrics here; 0: none")
    ] = 9100,
) -> None:
    """Run the background work outside the API: the scheduled jobs, the billing cycle, the
    notification outbox and the AI metrics; until stopped (Ctrl-C or SIGTERM). Its Prometheus
    metrics (job runs, notifications, AI spend) are served on --metrics-port."""
    from apex_mediation.ai.runtime import AiRuntime
    from apex_mediation.billing.runtime import BillingRuntime
    from apex_mediation.jobs.worker import run_worker
    from apex_mediation.observability.refresh import MetricsRefresh, serve_metrics

    settings = get_settings()
    settings.background_jobs = True

    async def go() -> None:
        services = await open_services(settings)
        billing = BillingRuntime.start(services)
        ai = AiRuntime.start(services)
        gauges = MetricsRefresh.start(services)
        if metrics_port:
            serve_metrics(settings.host, metrics_port)
        try:
            console.print("worker running: scheduled jobs, billing cycle, outbox, AI metrics")
            await run_worker(services)
        finally:
            await gauges.stop()
            await ai.stop()
            await billing.stop()
            await services.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
