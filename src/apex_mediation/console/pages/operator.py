"""The operator area (platform operators only): publishers with search and drill-down, and the
system's health: the stores, the ingest log's lag and backlog, and each bidder's breaker and
latency as this process sees them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from apex_mediation.accounts import directory
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import OperatorDep
from apex_mediation.observability.health import readiness
from apex_mediation.reporting import platform, service
from apex_mediation.reporting.params import Filters, Period
from apex_mediation.sdk.runtime import AuctionRuntime
from apex_mediation.stores import query_stats

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
LAG_WARN_S = 5.0


def _last_week() -> Period:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Period(end - timedelta(days=7), end)


@router.get("/operator")
async def publishers(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    found = await directory.search(session, q, page, PAGE_SIZE)
    ids = [row.publisher.id for row in found.rows]
    revenue = await platform.revenue_by_publisher(services.analytics, ids, _last_week())
    context = {
        "viewer": viewer,
        "q": q,
        "page": page,
        "pages": max(1, -(-found.total // PAGE_SIZE)),
        "total": found.total,
        "rows": [(row, revenue.get(row.publisher.id, (0, 0))) for row in found.rows],
    }
    return render(request, "operator/publishers.html", context)


@router.get("/operator/publishers/{publisher_id}")
async def publisher(
    request: Request,
    publisher_id: uuid.UUID,
    viewer: OperatorDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    found = await directory.detail(session, publisher_id)
    week = _last_week()
    overview = await service.overview(services.analytics, publisher_id, week, Filters())
    context = {"viewer": viewer, "detail": found, "metrics": overview.metrics}
    return render(request, "operator/publisher.html", context)


@dataclass(frozen=True)
class BidderHealth:
    key: str
    state: str
    failures: int
    answers: int
    p50_ms: float | None
    p95_ms: float | None


def bidder_health(runtime: AuctionRuntime) -> list[BidderHealth]:
    exchange = runtime.exchange
    rows = []
    for key, breaker in exchange.breakers.items():
        answers, p50, p95 = exchange.latency.summary(key)
        rows.append(BidderHealth(key, breaker.state.value, breaker.failures, answers, p50, p95))
    return sorted(rows, key=lambda row: (row.state == "closed", row.key))


@router.get("/operator/health")
async def health(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    runtime: AuctionRuntime = request.app.state.auction
    checks = await readiness(services, runtime.config_error)
    shipper = runtime.shipper
    context = {
        "viewer": viewer,
        "checks": checks,
        "lag_s": shipper.lag_s,
        "lag_warn_s": LAG_WARN_S,
        "backlog_bytes": shipper.backlog_bytes,
        "bidders": bidder_health(runtime),
        "snapshot_placements": len(runtime.snapshots.current.placements),
        "checked_at": datetime.now(UTC),
        "query_stats": await query_stats.detect(services.postgres),
    }
    return render(request, "operator/health.html", context)
