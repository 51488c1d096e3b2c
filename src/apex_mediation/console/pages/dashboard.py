"""The dashboard: the headline numbers against the previous period, charts by day or hour, by
network and by country, and a realtime tile that refreshes itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request, Response

from apex_mediation.api.deps import ServicesDep
from apex_mediation.console.charts import chart_response
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import ViewerDep
from apex_mediation.reporting import service
from apex_mediation.reporting.params import Filters, Period

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Range = Literal["24h", "7d", "30d"]
RANGES: dict[str, tuple[timedelta, str]] = {
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}


def period_for(range_: Range, now: datetime) -> tuple[Period, Period]:
    """The range ending now (whole hours, or whole days ending tomorrow 00:00 UTC) and the
    period of the same length just before it, for trends."""
    length, granularity = RANGES[range_]
    if granularity == "hour":
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        end = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time())
        end = end.replace(tzinfo=UTC)
    current = Period(end - length, end)
    return current, Period(current.start - length, current.start)


def _trend(now: int | float | None, before: int | float | None) -> float | None:
    if now is None or not before:
        return None
    return (now - before) / before


@router.get("/dashboard")
async def dashboard(
    request: Request, viewer: ViewerDep, services: ServicesDep, range: Range = "7d"
) -> Response:
    publisher = viewer.actor.tenant()
    current, previous = period_for(range, datetime.now(UTC))
    now = await service.overview(services.analytics, publisher, current, Filters())
    before = await service.overview(services.analytics, publisher, previous, Filters())
    tiles = [
        ("Revenue", "usd", now.metrics.revenue_micros, before.metrics.revenue_micros),
        ("Impressions", "number", now.metrics.impressions, before.metrics.impressions),
        ("eCPM", "usd", now.metrics.ecpm_micros, before.metrics.ecpm_micros),
        ("Fill rate", "percent", now.metrics.fill_rate, before.metrics.fill_rate),
        ("ARPDAU", "usd4", now.arpdau_micros, before.arpdau_micros),
    ]
    context = {
        "viewer": viewer,
        "range": range,
        "ranges": list(RANGES),
        "tiles": [
            {"label": label, "kind": kind, "value": value, "trend": _trend(value, prior)}
            for label, kind, value, prior in tiles
        ],
        "dau": now.dau,
    }
    return render(request, "dashboard.html", context)


@router.get("/dashboard/charts.json")
async def charts(viewer: ViewerDep, services: ServicesDep, range: Range = "7d") -> Response:
    """What the dashboard's charts draw (read by static/console.js)."""
    publisher = viewer.actor.tenant()
    current, _ = period_for(range, datetime.now(UTC))
    granularity = RANGES[range][1]
    return await chart_response(
        services.analytics,
        publisher,
        current,
        Filters(),
        "hour" if granularity == "hour" else "day",
        "%H:00" if granularity == "hour" else "%b %d",
    )


@router.get("/dashboard/realtime")
async def realtime(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    """The realtime tile (an htmx fragment, polled every few seconds)."""
    tenant = viewer.actor.tenant()
    live = await service.realtime(services.analytics, tenant, Filters())
    totals = live.totals
    last = live.points[-5:]
    context = {
        "totals": totals,
        "recent_impressions": sum(p.metrics.impressions for p in last),
        "test_impressions": await service.realtime_test_impressions(services.analytics, tenant),
        "updated": datetime.now(UTC),
    }
    return render(request, "partials/realtime.html", context)
