"""Prometheus metrics of the analytics store, counted once, in its `_execute` chokepoint."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["ANALYTICS_QUERIES", "ANALYTICS_QUERY_SECONDS"]

# kind: query | command | insert | ping | open | close; outcome: ok | error.
ANALYTICS_QUERIES = Counter(
    "analytics_queries_total",
    "Statements sent to the analytics store (chDB or ClickHouse), by kind and outcome.",
    ["kind", "outcome"],
)
ANALYTICS_QUERY_SECONDS = Histogram(
    "analytics_query_seconds",
    "Time from submitting a statement to the analytics store to its result, by kind.",
    ["kind"],
    # Reporting queries run to seconds; the default buckets stop at 10 s.
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
