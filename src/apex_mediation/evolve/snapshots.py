"""Hourly snapshots of the system, from its own measurements: per route the p95 latency and
the error rate, per bidder the timeout and error rates (this process's Prometheus counters, as
the change since the previous snapshot, with the calls an open circuit skipped), the creative
cache's expired share, the database's connections, the slow statements
pg_stat_statements holds, the ingest lag and the oldest waiting job or notification.

Counters are per process: in a single-process install (the serving process runs the worker)
they are the whole system's; with separate workers, each worker's snapshot describes itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from apex_mediation.db.models import NotificationOutbox, SystemSnapshot
from apex_mediation.evolve import indexes
from apex_mediation.stores import query_stats
from apex_mediation.stores.postgres import Postgres

SLOW_STATEMENT_MS = 100
_CONNECTIONS = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
_MAX_CONNECTIONS = "SHOW max_connections"


@dataclass(frozen=True)
class Counters:
    """Cumulative counts read from the registry, keyed for JSON."""

    route_buckets: dict[str, dict[str, float]]  # "GET /path" -> {le: count}
    route_requests: dict[str, float]
    route_errors: dict[str, float]
    bidder_outcomes: dict[str, dict[str, float]]  # network -> {outcome: count}
    ingest_lag_s: float
    circuit_skips: dict[str, float] = field(default_factory=dict)  # network -> calls skipped
    creative_lookups: dict[str, float] = field(default_factory=dict)  # served / expired

    def as_json(self) -> dict[str, Any]:
        return {
            "route_buckets": self.route_buckets,
            "route_requests": self.route_requests,
            "route_errors": self.route_errors,
            "bidder_outcomes": self.bidder_outcomes,
            "circuit_skips": self.circuit_skips,
            "creative_lookups": self.creative_lookups,
        }


def read_counters() -> Counters:
    buckets: dict[str, dict[str, float]] = defaultdict(dict)
    requests: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    bidders: dict[str, dict[str, float]] = defaultdict(dict)
    skips: dict[str, float] = defaultdict(float)
    creatives: dict[str, float] = defaultdict(float)
    lag = 0.0
    for family in REGISTRY.collect():
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "http_request_duration_seconds_bucket":
                buckets[f"{labels['method']} {labels['route']}"][labels["le"]] = sample.value
            elif sample.name == "http_requests_total":
                route = f"{labels['method']} {labels['route']}"
                requests[route] += sample.value
                if labels["status"].startswith("5"):
                    errors[route] += sample.value
            elif sample.name == "auction_bidder_calls_total":
                bidders[labels["network"]][labels["outcome"]] = sample.value
            elif sample.name == "auction_bidder_skipped_total":
                if labels["reason"] == "circuit_open":
                    skips[labels["network"]] += sample.value
            elif sample.name == "sdk_creative_lookups_total":
                creatives[labels["result"]] += sample.value
            elif sample.name == "ingest_lag_seconds":
                lag = sample.value
    return Counters(
        dict(buckets),
        dict(requests),
        dict(errors),
        dict(bidders),
        lag,
        dict(skips),
        dict(creatives),
    )


def _delta(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: max(0.0, v - before.get(k, 0.0)) for k, v in now.items()}


def p95_ms(buckets: dict[str, float]) -> int | None:
    """The upper bound of the bucket holding the 95th percentile (cumulative bucket counts)."""
    total = buckets.get("+Inf", 0.0)
    if total <= 0:
        return None
    for le, count in sorted(
        ((float(le), c) for le, c in buckets.items() if le != "+Inf"), key=lambda x: x[0]
    ):
        if count >= total * 0.95:
            return int(le * 1000)
    return None  # beyond the largest bucket


def summarise(now: Counters, before: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Routes and bidders over the interval since `before` (an earlier `Counters.as_json`)."""
    routes: dict[str, Any] = {}
    for route, buckets in now.route_buckets.items():
        change = _delta(buckets, before.get("route_buckets", {}).get(route, {}))
        count = _delta(now.route_requests, before.get("route_requests", {})).get(route, 0.0)
        failed = _delta(now.route_errors, before.get("route_errors", {})).get(route, 0.0)
        if count <= 0:
            continue
        routes[route] = {
            "requests": int(count),
            "p95_ms": p95_ms(change),
            "error_ppm": int(failed * 1_000_000 // count),
        }
    bidders: dict[str, Any] = {}
    skipped = _delta(now.circuit_skips, before.get("circuit_skips", {}))
    for network in now.bidder_outcomes.keys() | skipped.keys():
        outcomes = now.bidder_outcomes.get(network, {})
        change = _delta(outcomes, before.get("bidder_outcomes", {}).get(network, {}))
        calls = sum(change.values())
        if calls <= 0 and skipped.get(network, 0.0) <= 0:
            continue
        bidders[network] = {
            "calls": int(calls),
            "timeout_ppm": int(change.get("timeout", 0.0) * 1_000_000 // calls) if calls else 0,
            "error_ppm": int(change.get("error", 0.0) * 1_000_000 // calls) if calls else 0,
            "circuit_open": int(skipped.get(network, 0.0)),
        }
    return routes, bidders


def creative_cache(now: Counters, before: dict[str, Any]) -> dict[str, int]:
    """Creative URL loads over the interval and the share that found the creative expired."""
    change = _delta(now.creative_lookups, before.get("creative_lookups", {}))
    lookups = int(sum(change.values()))
    expired = int(change.get("expired", 0.0))
    return {
        "creative_lookups": lookups,
        "creative_expired_ppm": expired * 1_000_000 // lookups if lookups else 0,
    }


async def take(postgres: Postgres, now: dt.datetime) -> SystemSnapshot:
    """The snapshot at `now` (taken once: a second call for the same moment returns it)."""
    counters = read_counters()
    async with postgres.session() as session:
        existing = await session.scalar(
            select(SystemSnapshot).where(SystemSnapshot.taken_at == now)
        )
        if existing is not None:
            return existing
        previous = await session.scalar(
            select(SystemSnapshot)
            .where(SystemSnapshot.taken_at < now)
            .order_by(SystemSnapshot.taken_at.desc())
            .limit(1)
        )
        routes, bidders = summarise(counters, previous.raw if previous else {})
        caches = creative_cache(counters, previous.raw if previous else {})
        connections = int(await session.scalar(text(_CONNECTIONS)) or 0)
        limit = int(str(await session.scalar(text(_MAX_CONNECTIONS)) or 0))
        oldest = await session.scalar(
            select(func.min(NotificationOutbox.created_at)).where(
                NotificationOutbox.status == "pending"
            )
        )
    stats = await query_stats.detect(postgres, create=False)
    slow: int | None = None
    if stats.usable:
        async with postgres.engine.connect() as conn:
            slow = len(
                await indexes.slow_statements(conn, min_mean_ms=SLOW_STATEMENT_MS, min_calls=1)
            )
    pool = postgres.engine.pool
    snapshot = SystemSnapshot(
        taken_at=now,
        routes=routes,
        bidders=bidders,
        database={
            "connections": connections,
            "max_connections": limit,
            "pool_checked_out": int(getattr(pool, "checkedout", lambda: 0)()),
        },
        slow_statements=slow,
        ingest_lag_ms=int(counters.ingest_lag_s * 1000),
        queue_lag_s=int((now - oldest).total_seconds()) if oldest and oldest < now else 0,
        raw=counters.as_json(),
        caches=caches,
    )
    async with postgres.session() as session:
        session.add(snapshot)
        await session.commit()
    return snapshot
