"""The knobs' values as one process sees them: loaded at start, refreshed every few seconds,
and pushed to what they tune (the exchange's breakers and latency caps; the creative cache's
TTL is read where it is used). A failed refresh keeps the last values."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apex_mediation.background import Periodic
from apex_mediation.stores.postgres import Postgres
from apex_mediation.tuning import settings
from apex_mediation.tuning.knobs import defaults

REFRESH_S = 5.0
log = logging.getLogger(__name__)


class TuningStore:
    def __init__(self, postgres: Postgres, refresh_s: float = REFRESH_S) -> None:
        self._postgres = postgres
        self.values = defaults()
        self._listeners: list[Callable[[dict[str, int]], None]] = []
        self._loop = Periodic("runtime tuning refresh", refresh_s, self.refresh)

    def value(self, key: str) -> int:
        return self.values[key]

    def on_change(self, listener: Callable[[dict[str, int]], None]) -> None:
        """Call `listener` with the values now and after every refresh that changes them."""
        self._listeners.append(listener)
        listener(self.values)

    async def refresh(self) -> bool:
        async with self._postgres.session() as session:
            fresh = await settings.values(session)
        if fresh == self.values:
            return False
        changed = {k: v for k, v in fresh.items() if self.values.get(k) != v}
        log.info("runtime tuning changed: %s", changed)
        self.values = fresh
        for listener in self._listeners:
            listener(fresh)
        return True

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
