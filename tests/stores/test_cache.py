"""One suite for both caches: whatever passes on MemoryCache must pass on Redis, and back."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from apex_mediation.stores.cache import Cache, MemoryCache, RedisCache, open_cache

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
TTL = 0.2  # short, so expiry tests stay fast
PAST_TTL = TTL + 0.1


async def _drop_prefix(prefix: str) -> None:
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in raw.scan_iter(match=prefix + "*")]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    prefix = f"test:{secrets.token_hex(8)}:"
    if request.param == "memory":
        memory = MemoryCache(prefix)
        yield memory
        await memory.close()
        return
    store = RedisCache.from_url(REDIS_URL, prefix)
    # No skip: the Makefile starts Redis, so an unreachable one is a failure to see.
    assert await store.ping(), f"Redis is not reachable at {REDIS_URL}"
    try:
        yield store
    finally:
        await _drop_prefix(prefix)
        await store.close()


async def test_get_set_delete(cache: Cache) -> None:
    assert await cache.get("k") is None
    await cache.set("k", b"v1")
    assert await cache.get("k") == b"v1"
    await cache.set("k", b"v2")
    assert await cache.get("k") == b"v2"
    await cache.delete("k")
    assert await cache.get("k") is None
    await cache.delete("never-set")  # deleting a missing key is not an error


async def test_set_with_ttl_expires(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_s=TTL)
    remaining = await cache.ttl("k")
    assert remaining is not None and 0 < remaining <= TTL
    await asyncio.sleep(PAST_TTL)
    assert await cache.get("k") is None
    assert await cache.ttl("k") is None


async def test_plain_set_drops_an_earlier_ttl(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_s=TTL)
    await cache.set("k", b"w")
    assert await cache.ttl("k") is None
    await asyncio.sleep(PAST_TTL)
    assert await cache.get("k") == b"w"


async def test_ttl_is_none_for_missing_and_persistent_keys(cache: Cache) -> None:
    assert await cache.ttl("missing") is None
    await cache.set("forever", b"v")
    assert await cache.ttl("forever") is None


async def test_non_positive_ttl_is_refused(cache: Cache) -> None:
    with pytest.raises(ValueError, match="positive"):
        await cache.set("k", b"v", ttl_s=0)
    with pytest.raises(ValueError, match="positive"):
        await cache.incr("k", ttl_s=-1)


async def test_add_only_when_absent_and_again_after_expiry(cache: Cache) -> None:
    assert await cache.add("token", b"first", TTL) is True
    assert await cache.add("token", b"second", TTL) is False
    assert await cache.get("token") == b"first"
    await asyncio.sleep(PAST_TTL)
    assert await cache.add("token", b"third", TTL) is True
    assert await cache.get("token") == b"third"


async def test_add_without_ttl_keeps_the_key(cache: Cache) -> None:
    assert await cache.add("k", b"v", None) is True
    assert await cache.ttl("k") is None
    assert await cache.add("k", b"w", None) is False


async def test_add_is_atomic_under_concurrency(cache: Cache) -> None:
    results = await asyncio.gather(*(cache.add("replayed", str(i).encode(), 5) for i in range(50)))
    assert results.count(True) == 1
    winner = results.index(True)
    assert await cache.get("replayed") == str(winner).encode()


async def test_incr_counts_and_reads_back_as_text(cache: Cache) -> None:
    assert await cache.incr("n") == 1
    assert await cache.incr("n", 5) == 6
    assert await cache.incr("n", -2) == 4
    assert await cache.get("n") == b"4"
    assert await cache.ttl("n") is None


async def test_incr_ttl_is_set_on_creation_and_not_extended(cache: Cache) -> None:
    assert await cache.incr("window", ttl_s=0.3) == 1
    await asyncio.sleep(0.15)
    assert await cache.incr("window", ttl_s=0.3) == 2
    remaining = await cache.ttl("window")
    assert remaining is not None and remaining <= 0.16  # the first TTL still runs
    await asyncio.sleep(0.2)
    assert await cache.get("window") is None
    assert await cache.incr("window", ttl_s=0.3) == 1  # a new fixed window


async def test_incr_is_atomic_under_concurrency(cache: Cache) -> None:
    results = await asyncio.gather(*(cache.incr("hits", ttl_s=5) for _ in range(100)))
    assert sorted(results) == list(range(1, 101))
    assert await cache.get("hits") == b"100"


async def test_hit_window_with_caller_clock(cache: Cache) -> None:
    assert await cache.hit_window("rl", 10, now=1000.0) == 1
    assert await cache.hit_window("rl", 10, now=1001.0) == 2
    assert await cache.hit_window("rl", 10, now=1002.0) == 3
    # At 1011.5 the window is (1001.5, 1011.5]: the hits at 1000 and 1001 have left it.
    assert await cache.hit_window("rl", 10, now=1011.5) == 2
    # Hits at the same instant are all counted.
    assert await cache.hit_window("rl", 10, now=1011.5) == 3


async def test_hit_window_counts_drop_after_the_window(cache: Cache) -> None:
    for expected in (1, 2, 3):
        assert await cache.hit_window("rl", TTL) == expected
    remaining = await cache.ttl("rl")
    assert remaining is not None and 0 < remaining <= TTL  # idle windows expire as a whole
    await asyncio.sleep(PAST_TTL)
    assert await cache.hit_window("rl", TTL) == 1


async def test_hit_window_key_can_be_deleted(cache: Cache) -> None:
    await cache.hit_window("rl", 10)
    await cache.delete("rl")
    assert await cache.hit_window("rl", 10) == 1


async def test_keys_are_namespaced_by_prefix(cache: Cache) -> None:
    await cache.set("shared-name", b"mine")
    url = REDIS_URL if isinstance(cache, RedisCache) else None
    other = open_cache(url, cache.prefix + "other:")  # under ours, so the fixture cleans it
    try:
        assert await other.get("shared-name") is None
        await other.set("shared-name", b"theirs")
        assert await cache.get("shared-name") == b"mine"
    finally:
        await other.close()


async def test_redis_keys_carry_the_prefix() -> None:
    prefix = f"test:{secrets.token_hex(8)}:"
    store = RedisCache.from_url(REDIS_URL, prefix)
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        await store.set("k", b"v")
        assert await raw.get(prefix + "k") == b"v"
    finally:
        await _drop_prefix(prefix)
        await raw.aclose()
        await store.close()


async def test_ping(cache: Cache) -> None:
    assert await cache.ping() is True


async def test_open_cache_picks_the_implementation() -> None:
    memory = open_cache(None)
    redis_cache = open_cache(REDIS_URL)
    try:
        assert isinstance(memory, MemoryCache)
        assert isinstance(redis_cache, RedisCache)
        assert await redis_cache.ping()
    finally:
        await memory.close()
        await redis_cache.close()


async def test_redis_ping_is_false_when_unreachable() -> None:
    dead = RedisCache.from_url("redis://127.0.0.1:1/0")
    try:
        assert await dead.ping() is False
    finally:
        await dead.close()


async def test_memory_cache_sweeps_expired_keys_nobody_reads() -> None:
    memory = MemoryCache()
    for i in range(200):
        await memory.set(f"k{i}", b"v", ttl_s=0.05)
    await asyncio.sleep(0.1)
    for _ in range(4):  # each write sweeps up to SWEEP_PER_WRITE expired keys
        await memory.set("live", b"v")
    assert len(memory) == 1
