"""The small key-value cache behind rate limits, dedupe, frequency capping and config fan-out.

Two implementations of one `Cache` protocol, tested by one shared suite so they behave alike:

* `MemoryCache` — one process, one event loop (the embedded default). Its methods never await
  between reading and writing, so each call is atomic with respect to other tasks. Expiry uses
  `time.monotonic` (wall-clock jumps must not expire or revive keys).
* `RedisCache` — `REDIS_URL`; shared by every process of a deployment.

Values are bytes; counters made by `incr` read back through `get` as their decimal text, as in
Redis. Every key is prefixed with the namespace given at construction (e.g. "apex:").
"""

from __future__ import annotations

import heapq
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["Cache", "MemoryCache", "RedisCache", "open_cache"]


class Cache(Protocol):
    prefix: str  # prepended to every key

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store `value`; without `ttl_s` the key never expires (an earlier TTL is dropped)."""

    async def delete(self, key: str) -> None: ...

    async def add(self, key: str, value: bytes, ttl_s: float | None) -> bool:
        """Store `value` only if `key` is absent, atomically; True if this call stored it."""

    async def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        """Add `amount` atomically and return the new value.

        `ttl_s` applies only when this call creates the key, so a counter is a fixed window
        that later increments do not extend.
        """

    async def hit_window(self, key: str, window_s: float, now: float | None = None) -> int:
        """Record one hit and return the hits within the last `window_s` seconds (sliding).

        `now` is for callers that own the clock; it must not decrease between calls for a key.
        """

    async def ttl(self, key: str) -> float | None:
        """Seconds until `key` expires; None if it does not exist or never expires."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def _ttl_ms(ttl_s: float) -> int:
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive, got {ttl_s}")
    # Redis refuses an expiry of 0 ms, so a sub-millisecond TTL rounds up rather than down.
    return max(1, round(ttl_s * 1000))


# -- in-process ------------------------------------------------------------------------------


@dataclass
class _Entry:
    value: bytes
    expires_at: float | None


@dataclass
class _Window:
    hits: deque[float] = field(default_factory=deque)
    expires_at: float = 0.0


class MemoryCache:
    """A single-process cache. Not thread-safe: use it from one event loop."""

    # Expired keys are removed lazily when touched, and up to this many more per write from a
    # heap of deadlines, so keys that are never read again do not pile up forever.
    SWEEP_PER_WRITE = 64

    def __init__(self, prefix: str = "apex:") -> None:
        self.prefix = prefix
        self._entries: dict[str, _Entry] = {}
        self._windows: dict[str, _Window] = {}
        # (deadline, key); stale items (key rewritten or deleted) are skipped when popped.
        self._deadlines: list[tuple[float, str]] = []

    async def get(self, key: str) -> bytes | None:
        entry = self._live_entry(self.prefix + key, time.monotonic())
        return None if entry is None else entry.value

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self._store(self.prefix + key, value, ttl_s, time.monotonic())

    async def delete(self, key: str) -> None:
        full = self.prefix + key
        self._entries.pop(full, None)
        self._windows.pop(full, None)

    async def add(self, key: str, value: bytes, ttl_s: float | None) -> bool:
        full, now = self.prefix + key, time.monotonic()
        if self._live_entry(full, now) is not None or self._live_window(full, now) is not None:
            return False
        self._store(full, value, ttl_s, now)
        return True

    async def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        full, now = self.prefix + key, time.monotonic()
        entry = self._live_entry(full, now)
        if entry is None:
            self._store(full, str(amount).encode(), ttl_s, now)
            return amount
        total = int(entry.value) + amount
        entry.value = str(total).encode()
        return total

    async def hit_window(self, key: str, window_s: float, now: float | None = None) -> int:
        full, mono = self.prefix + key, time.monotonic()
        at = mono if now is None else now
        self._entries.pop(full, None)  # as in Redis, the window replaces a plain value
        window = self._live_window(full, mono)
        created = window is None
        if window is None:
            window = self._windows[full] = _Window()
        hits = window.hits
        while hits and hits[0] <= at - window_s:
            hits.popleft()
        hits.append(at)
        window.expires_at = mono + window_s
        if created:  # later hits only push the deadline back: the sweep reschedules then
            self._schedule(window.expires_at, full)
        self._sweep(mono)
        return len(hits)

    async def ttl(self, key: str) -> float | None:
        full, now = self.prefix + key, time.monotonic()
        entry = self._live_entry(full, now)
        if entry is not None:
            return None if entry.expires_at is None else entry.expires_at - now
        window = self._live_window(full, now)
        return None if window is None else window.expires_at - now

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()
        self._windows.clear()
        self._deadlines.clear()

    def __len__(self) -> int:
        """Keys held, expired ones included until they are swept (for tests and metrics)."""
        return len(self._entries) + len(self._windows)

    # -- internals ---------------------------------------------------------------------------
    def _store(self, full: str, value: bytes, ttl_s: float | None, now: float) -> None:
        expires_at = None if ttl_s is None else now + _ttl_ms(ttl_s) / 1000
        self._windows.pop(full, None)
        self._entries[full] = _Entry(value, expires_at)
        if expires_at is not None:
            self._schedule(expires_at, full)
        self._sweep(now)

    def _live_entry(self, full: str, now: float) -> _Entry | None:
        entry = self._entries.get(full)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= now:
            del self._entries[full]
            return None
        return entry

    def _live_window(self, full: str, now: float) -> _Window | None:
        window = self._windows.get(full)
        if window is not None and window.expires_at <= now:
            del self._windows[full]
            return None
        return window

    def _schedule(self, deadline: float, full: str) -> None:
        heapq.heappush(self._deadlines, (deadline, full))

    def _sweep(self, now: float) -> None:
        for _ in range(self.SWEEP_PER_WRITE):
            if not self._deadlines or self._deadlines[0][0] > now:
                return
            _, full = heapq.heappop(self._deadlines)
            # Each lookup deletes the key only if its current deadline has passed.
            self._live_entry(full, now)
            window = self._live_window(full, now)
            if window is not None:  # hit since it was scheduled: due later
                self._schedule(window.expires_at, full)


# -- Redis -----------------------------------------------------------------------------------


class RedisCache:
    """The cache on Redis; every method is one round trip."""

    def __init__(self, client: aioredis.Redis, prefix: str = "apex:") -> None:
        self.prefix = prefix
        self._redis = client

    @classmethod
    def from_url(cls, url: str, prefix: str = "apex:") -> RedisCache:
        # Connections are made lazily, on the first command.
        return cls(aioredis.Redis.from_url(url), prefix)

    async def get(self, key: str) -> bytes | None:
        # Replies are bytes: the client is built without decode_responses.
        return cast("bytes | None", await self._redis.get(self.prefix + key))

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        px = None if ttl_s is None else _ttl_ms(ttl_s)
        await self._redis.set(self.prefix + key, value, px=px)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self.prefix + key)

    async def add(self, key: str, value: bytes, ttl_s: float | None) -> bool:
        px = None if ttl_s is None else _ttl_ms(ttl_s)
        return bool(await self._redis.set(self.prefix + key, value, px=px, nx=True))

    async def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        full = self.prefix + key
        if ttl_s is None:
            return int(await self._redis.incrby(full, amount))
        # SET NX creates the key with its TTL only if absent; in one MULTI with the INCRBY, so
        # a key cannot be created by the INCRBY alone (and live forever) between the two.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(full, 0, px=_ttl_ms(ttl_s), nx=True)
            pipe.incrby(full, amount)
            _, total = await pipe.execute()
        return int(total)

    async def hit_window(self, key: str, window_s: float, now: float | None = None) -> int:
        # Wall-clock time, unlike MemoryCache: the window is shared by processes on other hosts.
        at = time.time() if now is None else now
        full = self.prefix + key
        member = f"{at!r}:{secrets.token_hex(6)}"  # unique, so hits at the same instant all count
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(full, "-inf", at - window_s)
            pipe.zadd(full, {member: at})
            pipe.zcard(full)
            pipe.pexpire(full, _ttl_ms(window_s))
            _, _, count, _ = await pipe.execute()
        return int(count)

    async def ttl(self, key: str) -> float | None:
        ms = int(await self._redis.pttl(self.prefix + key))
        return None if ms < 0 else ms / 1000  # -2: no key, -1: no expiry

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def open_cache(redis_url: str | None, prefix: str = "apex:") -> Cache:
    """Redis when a URL is configured, else the in-process cache."""
    if redis_url:
        return RedisCache.from_url(redis_url, prefix)
    return MemoryCache(prefix)
