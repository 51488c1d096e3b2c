"""Gauges read from the stores every minute by the serving process (with APEX_BACKGROUND_JOBS),
so alerts and dashboards see the system's figures, not one process's: growth's stages and churn.
Importing this module also registers the process's memory-limit gauge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from prometheus_client import start_http_server

from apex_mediation.background import Periodic
from apex_mediation.growth import metrics as growth_metrics
from apex_mediation.observability import process_metrics  # noqa: F401  (registers its gauge)
from apex_mediation.services import Services

INTERVAL_S = 60.0


async def refresh_once(services: Services) -> None:
    async with services.postgres.session() as session:
        await growth_metrics.refresh(session, dt.datetime.now(dt.UTC))


@dataclass
class MetricsRefresh:
    loops: list[Periodic] = field(default_factory=list)

    @classmethod
    def start(cls, services: Services) -> MetricsRefresh:
        runtime = cls()
        if services.settings.background_jobs:
            runtime.loops = [
                Periodic("metrics refresh", INTERVAL_S, lambda: refresh_once(services))
            ]
            for loop in runtime.loops:
                loop.start()
        return runtime

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.stop()


def serve_metrics(host: str, port: int) -> None:
    """/metrics on its own port, from a thread, for processes without the HTTP app (the
    worker): Prometheus scrapes it, and its answer is the worker's liveness probe."""
    start_http_server(port, addr=host)
