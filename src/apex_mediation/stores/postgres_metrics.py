"""Prometheus metrics of PostgreSQL as the application uses it: the connection pool (read at
scrape time from every open engine) and each statement's duration (timed around the cursor)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

QUERY_SECONDS = Histogram(
    "db_query_duration_seconds",
    "PostgreSQL statement time as the application waited for it",
    # The slow-query alert counts statements over a second: 1.0 must be a bucket bound.
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_STARTED = "apex_query_started"


class _PoolCollector(Collector):
    def __init__(self) -> None:
        self.pools: weakref.WeakSet[QueuePool] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pools = list(self.pools)
        checked_out = GaugeMetricFamily(
            "db_pool_checked_out", "PostgreSQL connections in use by the application"
        )
        checked_out.add_metric([], sum(p.checkedout() for p in pools))
        capacity = GaugeMetricFamily(
            "db_pool_capacity", "PostgreSQL connections the pool may hold (size plus overflow)"
        )
        capacity.add_metric([], sum(p.size() + p._max_overflow for p in pools))
        yield checked_out
        yield capacity


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def _before(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
    conn.info.setdefault(_STARTED, []).append(time.perf_counter())


def _after(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
    started = conn.info.get(_STARTED)
    if started:
        QUERY_SECONDS.observe(time.perf_counter() - started.pop())


def _failed(context: Any) -> None:
    started = context.connection.info.get(_STARTED) if context.connection is not None else None
    if started:
        started.pop()  # a failed statement is an error, not a duration


def watch(engine: AsyncEngine) -> None:
    """Count this engine's pool and time its statements."""
    sync = engine.sync_engine
    if isinstance(sync.pool, QueuePool):
        _POOLS.pools.add(sync.pool)
    event.listen(sync, "before_cursor_execute", _before)
    event.listen(sync, "after_cursor_execute", _after)
    event.listen(sync, "handle_error", _failed)
