"""Request-rate limits on the `limits` library (its asyncio API), in one of two storages:

* in process memory (the embedded default, one process), or
* Redis (`REDIS_URL`), so that every process of a deployment shares one count per key.

Two strategies, chosen by the caller: a moving window is exact (never more than N requests in
any window of the period) and suits the API's per-minute limits; a fixed window is one counter
per key, which suits the SDK hot path and long quotas (a day's 10,000 would otherwise be 10,000
timestamps per key).
"""

from __future__ import annotations

import logging
import math
import time
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError

__all__ = ["RateLimiter", "Strategy", "open_rate_limiter", "parse_rates"]

log = logging.getLogger(__name__)


class Strategy(StrEnum):
    MOVING = "moving"
    FIXED = "fixed"


def parse_rates(text: str) -> list[RateLimitItem]:
    """'100/minute;10000/day' -> its limits; ValueError naming the text when it is not one."""
    try:
        return parse_many(text)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a rate like '100/minute' or '100/minute;10000/day'"
        ) from exc


SWEEP_INTERVAL_S = 1.0


class _MemoryStorage(MemoryStorage):
    """`limits`' in-process storage, sweeping out expired keys at most once a second.

    Its own schedule starts a sweep over every key whenever the last one has finished, which
    under load is once per event-loop turn: with 2,000 client IPs in flight that measured
    0.27 ms per SDK request instead of 0.01 ms. Counts do not depend on the sweep (an expired
    key is dropped when next read, and a moving window ignores old entries); it only returns
    memory, for which once a second is soon enough.
    """

    _last_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:  # the base's private hook
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_INTERVAL_S:
            self._last_sweep = now
            await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


class RateLimiter:
    def __init__(self, storage: Storage, pool: aioredis.ConnectionPool | None = None) -> None:
        self.storage = storage
        self._pool = pool
        self._by_strategy = {
            Strategy.MOVING: MovingWindowRateLimiter(storage),
            Strategy.FIXED: FixedWindowRateLimiter(storage),
        }

    async def retry_after(
        self,
        rates: list[RateLimitItem],
        *identifiers: str,
        strategy: Strategy = Strategy.MOVING,
    ) -> int | None:
        """Count one request against every rate; whole seconds to wait if one is exhausted.

        Stops at the first exhausted rate, so a request refused by the minute's limit does not
        use up the day's quota. A storage failure lets the request through (logged): losing the
        limiter must not take the service down with it.
        """
        limiter = self._by_strategy[strategy]
        try:
            for rate in rates:
                if not await limiter.hit(rate, *identifiers):
                    stats = await limiter.get_window_stats(rate, *identifiers)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except StorageError:
            log.warning("rate limit storage failed; request let through", exc_info=True)
        return None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def open_rate_limiter(redis_url: str | None, prefix: str) -> RateLimiter:
    """In memory without a Redis URL; else on Redis, keys under `prefix` (no I/O until used)."""
    if redis_url is None:
        return RateLimiter(_MemoryStorage())
    # Our own pool, passed in, so that the connections can be closed at shutdown; `limits`
    # types its client options as scalars, hence the Any.
    pool = aioredis.ConnectionPool.from_url(redis_url)
    client_options: dict[str, Any] = {"connection_pool": pool}
    storage = RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=prefix,
        wrap_exceptions=True,
        **client_options,
    )
    return RateLimiter(storage, pool)
