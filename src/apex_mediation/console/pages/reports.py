"""Reports: filters (period, app, placement, network, country, format, granularity) over the
timeseries and the breakdowns by network, country and app, with a chart, the CSV exports of the
reporting API, the auction-log export and the crash counts per SDK version.

The filter form is a GET form: a report is a URL that can be bookmarked and shared. A bad
filter re-renders the form naming the field, with status 400.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.auction.adapters.registry import ADAPTERS
from apex_mediation.auction.model import AdFormat
from apex_mediation.console.charts import chart_response
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import ViewerDep
from apex_mediation.inventory import apps, placements
from apex_mediation.reporting import params, service, transparency
from apex_mediation.reporting.params import Filters, Granularity, Period

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PRESETS = {"7d": 7, "30d": 30}
RANGES = (*PRESETS, "custom")
FORMATS: tuple[str, ...] = get_args(AdFormat)
FIELDS = (
    "range",
    "start",
    "end",
    "app",
    "placement",
    "network",
    "country",
    "format",
    "granularity",
)
LABELS = {"startDate": "start date", "endDate": "end date"}  # the API's names, the form's
INPUTS = {"start date": "start", "end date": "end"}
HOURLY_MAX = timedelta(days=31)  # an hourly table longer than this is not read by anyone
AUCTION_LOG_MAX = timedelta(days=31)  # what GET /api/v1/reporting/auction-log accepts
BREAKDOWN_LIMIT = 20
_NETWORK = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    filters: Filters
    granularity: Granularity
    values: dict[str, str] = field(default_factory=dict)  # what the form shows, normalised

    def _bounds(self) -> dict[str, str]:
        start, end = self.period.start, self.period.end
        if self.period.whole_days:  # as dates: the API's end date is inclusive
            last = (end - timedelta(days=1)).date()
            return {"startDate": start.date().isoformat(), "endDate": last.isoformat()}
        return {"startDate": _instant(start), "endDate": _instant(end)}

    def api_params(self, **extra: str) -> str:
        """The same report as the reporting API's query string."""
        f = self.filters
        optional = {
            "appId": str(f.app_id) if f.app_id else "",
            "placementId": str(f.placement_id) if f.placement_id else "",
            "network": f.network or "",
            "country": f.country or "",
            "format": f.format or "",
        }
        return urlencode({**extra, **self._bounds(), **{k: v for k, v in optional.items() if v}})

    def log_params(self, fmt: str) -> str:
        """The auction-log export's query string: the period and the placement only."""
        placement = self.filters.placement_id
        extra = {"placementId": str(placement)} if placement else {}
        return urlencode({"format": fmt, **self._bounds(), **extra})

    @property
    def page_params(self) -> str:
        return urlencode({k: v for k, v in self.values.items() if v})


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(text: str, name: str) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput("not one of your apps or placements", field=name) from None


def _period(values: dict[str, str], now: datetime) -> Period:
    if values["range"] in PRESETS:
        today = now.astimezone(UTC).date()
        start = today - timedelta(days=PRESETS[values["range"]] - 1)
        return params.parse_period(start.isoformat(), today.isoformat(), now)
    try:
        return params.parse_period(values["start"] or None, values["end"] or None, now)
    except InvalidInput as exc:
        label = LABELS.get(exc.field or "", exc.field)
        raise InvalidInput(exc.message, field=label) from None


def parse(request: Request, now: datetime) -> ReportQuery:
    """The report the query string asks for; InvalidInput naming the form field otherwise."""
    values = {name: request.query_params.get(name, "").strip()[:100] for name in FIELDS}
    values["range"] = values["range"] or "7d"
    values["granularity"] = values["granularity"] or "day"
    values["country"] = values["country"].upper()
    if values["range"] not in RANGES:
        raise InvalidInput(f"one of {', '.join(RANGES)}", field="range")
    if values["range"] != "custom":
        values["start"] = values["end"] = ""
    period = _period(values, now)
    granularity = values["granularity"]
    if granularity not in ("day", "hour"):
        raise InvalidInput("day or hour", field="granularity")
    if granularity == "hour" and period.end - period.start > HOURLY_MAX:
        raise InvalidInput(f"by hour covers at most {HOURLY_MAX.days} days", field="granularity")
    if values["network"] and not _NETWORK.match(values["network"]):
        raise InvalidInput("not a network name", field="network")
    if values["country"] and not _COUNTRY.match(values["country"]):
        raise InvalidInput("a two-letter country code such as US", field="country")
    if values["format"] and values["format"] not in FORMATS:
        raise InvalidInput(f"one of {', '.join(FORMATS)}", field="format")
    filters = Filters(
        app_id=_uuid(values["app"], "app"),
        placement_id=_uuid(values["placement"], "placement"),
        network=values["network"] or None,
        country=values["country"] or None,
        format=values["format"] or None,
    )
    return ReportQuery(period, filters, "hour" if granularity == "hour" else "day", values)


async def inventory_names(
    session: AsyncSession, publisher_id: uuid.UUID
) -> tuple[dict[str, str], dict[str, str]]:
    """App and placement names by id (as text), for selects and for labelling rows."""
    app_page = await apps.list_apps(session, publisher_id, 1, 200)
    placement_page = await placements.list_placements(session, publisher_id, page=1, page_size=200)
    app_names = {str(app.id): app.name for app in app_page.items}
    placement_names = {str(view.placement.id): view.placement.name for view in placement_page.items}
    return app_names, placement_names


def _sdk_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "per_thousand": row["crashes"] * 1000 / row["requests"] if row["requests"] else None,
        }
        for row in rows
    ]


@router.get("/reports")
async def reports(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    publisher = viewer.actor.tenant()
    app_names, placement_names = await inventory_names(session, publisher)
    context: dict[str, Any] = {
        "viewer": viewer,
        "ranges": RANGES,
        "formats": FORMATS,
        "networks": sorted(ADAPTERS),
        "app_names": app_names,
        "placement_names": placement_names,
    }
    try:
        query = parse(request, datetime.now(UTC))
    except InvalidInput as exc:
        typed = {name: request.query_params.get(name, "")[:100] for name in FIELDS}
        error_at = INPUTS.get(exc.field or "", exc.field)
        context.update(values=typed, error=f"{exc.field}: {exc.message}", error_at=error_at)
        return render(request, "reports/index.html", context, 400)
    analytics, period, filters = services.analytics, query.period, query.filters
    overview, series = await service.overview_and_series(
        analytics, publisher, period, filters, query.granularity
    )
    networks = await service.by_network(analytics, publisher, period, filters)
    countries = await service.by_country(analytics, publisher, period, filters, BREAKDOWN_LIMIT)
    top = await service.top_apps(analytics, publisher, period, filters, BREAKDOWN_LIMIT)
    sdks = await transparency.sdk_health(analytics, publisher, period)
    context.update(
        query=query,
        values=query.values,
        overview=overview,
        series=series,
        by_network=networks,
        by_country=countries,
        top_apps=top,
        sdk_versions=_sdk_rows(sdks),
        last_day=(period.end - timedelta(seconds=1)).date(),
        auction_log=period.end - period.start <= AUCTION_LOG_MAX,
        auction_log_days=AUCTION_LOG_MAX.days,
    )
    return render(request, "reports/index.html", context)


@router.get("/reports/charts.json")
async def charts(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    """What the report's charts draw (read by static/console.js), for the same filters."""
    publisher = viewer.actor.tenant()
    query = parse(request, datetime.now(UTC))
    analytics, period, filters = services.analytics, query.period, query.filters
    fmt = "%b %d %H:00" if query.granularity == "hour" else "%b %d"
    return await chart_response(analytics, publisher, period, filters, query.granularity, fmt)
