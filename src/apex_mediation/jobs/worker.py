"""The procrastinate worker: every job in the registry becomes a periodic task whose trigger
calls `run_job`; the queue lives in PostgreSQL (schema `procrastinate`), so any number of
workers can run and each trigger is executed once (procrastinate defers a periodic task once
per tick across workers, and the job's own lock and period record do the rest)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import procrastinate

from apex_mediation.jobs.registry import JOBS
from apex_mediation.jobs.runner import run_job
from apex_mediation.services import Services
from apex_mediation.stores.postgres import plain_url

log = logging.getLogger(__name__)
QUEUE = "apex-jobs"


def make_app(services: Services, names: Iterable[str] | None = None) -> procrastinate.App:
    """The procrastinate app with a periodic task per job (or per job in `names`)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=plain_url(services.postgres.url),
        kwargs={"options": "-c search_path=procrastinate"},
        min_size=1,
        max_size=3,
    )
    app = procrastinate.App(connector=connector)
    for name in names if names is not None else JOBS:
        _register(app, services, name, JOBS[name].cron)
    return app


def _register(app: procrastinate.App, services: Services, name: str, cron: str) -> None:
    async def trigger(timestamp: int) -> None:
        await run_job(services, name, now=dt.datetime.fromtimestamp(timestamp, dt.UTC))

    task: Any = app.task(name=f"apex.jobs.{name}", queue=QUEUE, queueing_lock=name)(trigger)
    app.periodic(cron=cron, periodic_id=name)(task)


async def run_worker(services: Services, *, wait: bool = True) -> None:
    app = make_app(services)
    async with app.open_async():
        await app.run_worker_async(
            queues=[QUEUE], wait=wait, install_signal_handlers=False, name="apex-worker"
        )


RESTART_AFTER_S = 5.0


class EmbeddedWorker:
    """The worker inside the serving process (ARCHITECTURE: no separate process needed for a
    single-node install); stopped with the app. A worker that fails (the database gone for a
    while) is restarted after a pause: the serving process outlives any outage of its jobs."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._task: asyncio.Task[None] | None = None

    async def _supervise(self) -> None:
        while True:
            try:
                await run_worker(self._services)
            except Exception as exc:  # restarted below; the app keeps serving meanwhile
                log.warning("the job worker stopped (%s); restarting in %g s", exc, RESTART_AFTER_S)
            await asyncio.sleep(RESTART_AFTER_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="apex worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
