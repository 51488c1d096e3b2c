"""Snapshots measure the interval since the previous one (from the process's own counters);
incidents open when a threshold is crossed, stay single while it holds, and resolve after."""

from __future__ import annotations

import datetime as dt
import itertools

import httpx
from sqlalchemy import delete, select

from apex_mediation.db.models import Incident, SystemSnapshot
from apex_mediation.evolve import incidents, snapshots
from apex_mediation.services import Services

_HOURS = itertools.count()


def _moment() -> dt.datetime:
    return dt.datetime(2350, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=next(_HOURS))


def test_p95_from_cumulative_buckets() -> None:
    buckets = {"0.01": 50.0, "0.1": 94.0, "0.5": 99.0, "1.0": 100.0, "+Inf": 100.0}
    assert snapshots.p95_ms(buckets) == 500
    assert snapshots.p95_ms({"0.01": 96.0, "+Inf": 100.0}) == 10
    assert snapshots.p95_ms({"+Inf": 0.0}) is None
    assert snapshots.p95_ms({"10.0": 90.0, "+Inf": 100.0}) is None  # beyond the last bucket


def test_the_summary_is_the_change_since_the_previous_snapshot() -> None:
    before = {
        "route_buckets": {"GET /x": {"0.1": 10.0, "1.0": 10.0, "+Inf": 10.0}},
        "route_requests": {"GET /x": 10.0},
        "route_errors": {"GET /x": 0.0},
        "bidder_outcomes": {"acme": {"bid": 40.0, "timeout": 0.0}},
    }
    now = snapshots.Counters(
        route_buckets={"GET /x": {"0.1": 10.0, "1.0": 110.0, "+Inf": 110.0}},
        route_requests={"GET /x": 110.0},
        route_errors={"GET /x": 10.0},
        bidder_outcomes={"acme": {"bid": 70.0, "timeout": 10.0}},
        ingest_lag_s=0.0,
    )
    routes, bidders = snapshots.summarise(now, before)
    assert routes == {"GET /x": {"requests": 100, "p95_ms": 1000, "error_ppm": 100_000}}
    assert bidders == {
        "acme": {"calls": 40, "timeout_ppm": 250_000, "error_ppm": 0, "circuit_open": 0}
    }


async def test_snapshots_follow_real_traffic(services: Services, app: object) -> None:
    first = await snapshots.take(services.postgres, _moment())
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(5):
            assert (await http.get("/health")).status_code == 200
    second = await snapshots.take(services.postgres, _moment())
    health = second.routes["GET /health"]
    assert health["requests"] == 5 and health["error_ppm"] == 0
    assert health["p95_ms"] is not None and health["p95_ms"] <= 1000
    assert second.database["connections"] >= 1 and second.database["max_connections"] > 0
    assert first.raw["route_requests"] != second.raw["route_requests"]


def _snapshot(**overrides: object) -> SystemSnapshot:
    values: dict[str, object] = {
        "taken_at": _moment(),
        "routes": {},
        "bidders": {},
        "database": {"connections": 5, "max_connections": 100},
        "slow_statements": None,
        "ingest_lag_ms": 0,
        "queue_lag_s": 0,
        "raw": {},
    }
    return SystemSnapshot(**{**values, **overrides})


async def test_incidents_open_once_and_resolve(services: Services) -> None:
    slow = {"GET /slow": {"requests": 50, "p95_ms": 2500, "error_ppm": 80_000}}
    timeouts = {"acme": {"calls": 100, "timeout_ppm": 300_000, "error_ppm": 0}}
    async with services.postgres.session() as session:
        await session.execute(delete(Incident))
        opened = await incidents.update(
            session, _snapshot(routes=slow, bidders=timeouts, ingest_lag_ms=90_000), _moment()
        )
        assert opened == (4, 0)  # slow route, route errors, bidder timeouts, ingest lag
        again = await incidents.update(session, _snapshot(routes=slow), _moment())
        assert again == (0, 2)  # still slow (no new incidents); timeouts and lag resolved
        await session.commit()
        still_open = list(
            await session.scalars(select(Incident).where(Incident.resolved_at.is_(None)))
        )
        assert sorted((i.kind, i.severity) for i in still_open) == [
            ("route_errors", "critical"),
            ("slow_route", "warning"),
        ]
        assert (await incidents.update(session, _snapshot(), _moment())) == (0, 2)
        await session.commit()
