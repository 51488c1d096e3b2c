"""Readiness: each store checked for real, the failing one named."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apex_mediation.db.migrate import pending_revisions
from apex_mediation.services import Services

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def _run(name: str, probe: Callable[[], Awaitable[object]]) -> Check:
    try:
        result = await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return Check(name, False, f"no answer within {CHECK_TIMEOUT_S:g}s")
    except Exception as exc:  # any failure of a store makes it not ready, with its reason
        return Check(name, False, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    if result is False:
        return Check(name, False, "check returned false")
    if isinstance(result, str):
        return Check(name, False, result)
    return Check(name, True, "ok")


async def _postgres(services: Services) -> bool | str:
    await services.postgres.ping()
    pending = await asyncio.to_thread(pending_revisions, services.postgres.url)
    if pending:
        return f"{len(pending)} pending migrations (run `apex migrate`): {', '.join(pending)}"
    return True


async def readiness(services: Services, config_error: str | None = None) -> list[Check]:
    checks = list(
        await asyncio.gather(
            _run("postgres", lambda: _postgres(services)),
            _run("clickhouse", services.analytics.ping),
            _run("cache", services.cache.ping),
        )
    )
    if config_error is not None:  # no signing key: SDK configs cannot be served
        checks.append(Check("config_signing", False, config_error))
    return checks
