"""AI inside a process: the one gateway (one HTTP client), the metrics refresh that keeps every
process's spend and budget gauges true for the alerts — the loop
only when APEX_BACKGROUND_JOBS is on. (The daily review is a scheduled job: jobs/registry.py.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from apex_mediation.ai import budget
from apex_mediation.ai.gateway import AiGateway
from apex_mediation.background import Periodic
from apex_mediation.services import Services

METRICS_INTERVAL_S = 60.0


@dataclass
class AiRuntime:
    gateway: AiGateway
    loops: list[Periodic] = field(default_factory=list)

    @classmethod
    def start(cls, services: Services) -> AiRuntime:
        runtime = cls(AiGateway(services.postgres, services.settings))
        if services.settings.background_jobs:

            async def refresh() -> None:
                async with services.postgres.session() as session:
                    await budget.refresh_metrics(
                        session, services.settings, dt.datetime.now(dt.UTC)
                    )
                    await session.commit()

            runtime.loops = [Periodic("ai metrics", METRICS_INTERVAL_S, refresh)]
            for loop in runtime.loops:
                loop.start()
        return runtime

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.stop()
        await self.gateway.aclose()


def gateway_of(app: Any) -> AiGateway | None:
    runtime: AiRuntime | None = getattr(app.state, "ai", None)
    return runtime.gateway if runtime is not None else None
