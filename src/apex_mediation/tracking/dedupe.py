"""Counting a replayed beacon once: the event id's key in the cache, and its warm-up at start.

With Redis the keys outlive a restart of the server. The in-process cache starts empty, so a
token replayed shortly after a restart would count again; at start the ids of recent events are
loaded back from ClickHouse and from the ingest log's undelivered records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apex_mediation.stores.analytics import Analytics
from apex_mediation.stores.cache import Cache

PREFIX = "ev:"
SEEN = b"1"


def key(event_id: str) -> str:
    return PREFIX + event_id


async def warm(
    cache: Cache,
    analytics: Analytics,
    undelivered: Iterable[Mapping[str, Any]],
    window_s: int,
) -> int:
    """Mark the events of the last `window_s` seconds as seen; returns how many."""
    rows = await analytics.query(
        "SELECT DISTINCT event_id FROM events"
        " WHERE received_at >= now64(3) - toIntervalSecond({window:UInt32})",
        {"window": window_s},
    )
    ids = [str(r["event_id"]) for r in rows] + [str(r["event_id"]) for r in undelivered]
    for event_id in ids:
        await cache.add(key(event_id), SEEN, ttl_s=window_s)
    return len(ids)
