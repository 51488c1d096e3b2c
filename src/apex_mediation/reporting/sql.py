"""Every report query, as a named function returning its SQL and parameters.

Ranges read rollups (migrations 0004 and 0007); only `realtime` reads the raw tables, for one
hour, so that a beacon shows within seconds. Each query reads the smallest rollup that holds
every dimension it groups or filters by (`_LEVELS`, smallest first); the daily ones serve only
periods of whole UTC days that are not reported per hour.

Rules kept by every function here:
* the publisher filter comes first, always (`service.fetch` refuses a query without it);
* values are bound as `{name:Type}` parameters; the only text spliced in is this module's own
  column names and constants, never input;
* test traffic (`test = 0`) and invalid traffic (`ivt = 0`) are excluded from every measure.

Events and auctions are read in one pass: a UNION ALL of both rollups, projected onto the same
columns (`n_*`, named apart from every output alias so that no alias shadows a column, which the
old ClickHouse analyzer would misread), aggregated once by the report's key.
"""

from __future__ import annotations

import uuid
from typing import Literal, NamedTuple

from apex_mediation.reporting.params import Filters, Granularity, Period
from apex_mediation.tracking.event_names import (
    CLICK,
    IMPRESSION,
    REWARD,
    VIDEO_COMPLETE,
)

__all__ = [
    "AUCTIONS_HOURLY",
    "CLICK",
    "DEVICES_DAILY",
    "EVENTS_HOURLY",
    "EVENTS_TOTALS_HOURLY",
    "IMPRESSION",
    "REWARD",
    "TENANT_FILTER",
    "VIDEO_COMPLETE",
    "Query",
    "by_country",
    "by_network",
    "daily_devices",
    "filters_where",
    "overview",
    "realtime",
    "test_impressions",
    "timeseries",
    "top_apps",
]

EVENTS_HOURLY = "events_hourly"
DEVICES_DAILY = "devices_daily"
AUCTIONS_HOURLY = "auctions_hourly"
EVENTS_TOTALS_HOURLY = "events_totals_hourly"


TENANT_FILTER = "publisher_id = {publisher_id:UUID}"

# What a report can group or filter by, besides time.
Dimension = Literal["app_id", "placement_id", "network", "country", "format"]
_ALL_DIMENSIONS: frozenset[Dimension] = frozenset(
    ("app_id", "placement_id", "network", "country", "format")
)
# A report's time key: none (totals), per hour, per UTC day, per minute (raw tables only).
TimeKey = Literal["", "hour", "day", "minute"]


class Query(NamedTuple):
    sql: str
    params: dict[str, object]


class _Source(NamedTuple):
    """How one table names what the filters and the shared projection need."""

    table: str
    time: str  # the time column, compared with {start} and {end} (or {start_day}, {end_day})
    time_type: str
    network: str
    ivt: bool  # whether the table has the invalid-traffic flag (auctions do not)
    measures: str  # event, n_events, n_cpm, n_requests, n_fills
    dimensions: frozenset[Dimension] = _ALL_DIMENSIONS

    @property
    def daily(self) -> bool:
        return self.time_type == "Date"

    def bucket(self, key: TimeKey) -> str:
        """The expression of a time key on this table, as a DateTime in UTC."""
        if key == "minute":
            return f"toStartOfMinute(toDateTime({self.time}, 'UTC'))"
        if self.daily:
            return f"toDateTime({self.time}, 'UTC')"
        return self.time if key == "hour" else f"toStartOfDay({self.time}, 'UTC')"


_EVENT_MEASURES = (
    "event, events AS n_events, cpm_micros_sum AS n_cpm, "
    "toUInt64(0) AS n_requests, toUInt64(0) AS n_fills"
)
_AUCTION_MEASURES = (
    "'' AS event, toUInt64(0) AS n_events, toUInt64(0) AS n_cpm, "
    "requests AS n_requests, fills AS n_fills"
)
_HOUR = ("hour", "DateTime('UTC')")
_DAY = ("day", "Date")
_INVENTORY: frozenset[Dimension] = frozenset(("app_id", "placement_id", "network", "format"))
_COUNTRY: frozenset[Dimension] = frozenset(("country", "app_id", "format"))

# (events, auctions) pairs, smallest first; the last holds every dimension per hour.
_LEVELS: tuple[tuple[_Source, _Source], ...] = tuple(
    (
        _Source(f"events_{name}", *time, "network", True, _EVENT_MEASURES, dimensions),
        _Source(f"auctions_{name}", *time, "network", False, _AUCTION_MEASURES, dimensions),
    )
    for name, time, dimensions in (
        ("totals_hourly", _HOUR, frozenset()),
        ("inventory_daily", _DAY, _INVENTORY),
        ("country_daily", _DAY, _COUNTRY),
        ("hourly", _HOUR, _ALL_DIMENSIONS),
    )
)
# Unique devices per day: per publisher, per app and country, and per every dimension.
_DEVICE_TABLES: tuple[tuple[str, frozenset[Dimension]], ...] = (
    ("devices_publisher_daily", frozenset()),
    ("devices_app_country_daily", frozenset(("app_id", "country"))),
    (DEVICES_DAILY, _ALL_DIMENSIONS),
)
# FINAL: the raw tables collapse redelivered rows only on merge; realtime must not count them.
_RAW = (
    _Source(
        "events FINAL",
        "received_at",
        "DateTime64(3, 'UTC')",
        "network",
        True,
        "event, toUInt64(1) AS n_events, cpm_micros AS n_cpm, "
        "toUInt64(0) AS n_requests, toUInt64(0) AS n_fills",
    ),
    _Source(
        "auctions FINAL",
        "received_at",
        "DateTime64(3, 'UTC')",
        "winner_network",
        False,
        "'' AS event, toUInt64(0) AS n_events, toUInt64(0) AS n_cpm, "
        "toUInt64(1) AS n_requests, toUInt64(filled) AS n_fills",
    ),
)

_MEASURES = f"""\
    sumIf(n_events, event = '{IMPRESSION}') AS impressions,
    sumIf(n_events, event = '{CLICK}') AS clicks,
    sumIf(n_events, event = '{VIDEO_COMPLETE}') AS video_completes,
    sumIf(n_events, event = '{REWARD}') AS rewards,
    sumIf(n_cpm, event = '{IMPRESSION}') AS cpm_micros,
    sum(n_requests) AS requests,
    sum(n_fills) AS fills"""
_COUNTED_EVENTS = f"event IN ('{IMPRESSION}', '{CLICK}', '{VIDEO_COMPLETE}', '{REWARD}')"
_ORDER_BY_REVENUE = "ORDER BY cpm_micros DESC, impressions DESC, requests DESC"


# -- the reports -----------------------------------------------------------------------------


def overview(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """One row of totals over the period."""
    return _report(publisher_id, period, filters)


def daily_devices(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """Unique devices per UTC day (days without any are absent); for DAU and ARPDAU."""
    needed = _filtered(filters)
    table = next(name for name, held in _DEVICE_TABLES if needed <= held)
    where, params = filters_where(publisher_id, filters, ivt=True)
    sql = f"""\
SELECT day, uniqMerge(devices) AS unique_devices
FROM {table}
WHERE {where}
      AND day >= {{start_day:Date}} AND day < {{end_day:Date}}
GROUP BY day
ORDER BY day"""  # noqa: S608 - only this module's names are spliced in
    return Query(sql, {**params, "start_day": period.start.date(), "end_day": period.end.date()})


def timeseries(
    publisher_id: uuid.UUID, period: Period, filters: Filters, granularity: Granularity
) -> Query:
    """One row per hour or UTC day that has data; the service fills the gaps."""
    return _report(publisher_id, period, filters, time_key=granularity, tail="ORDER BY bucket")


def by_network(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """One row per network that served or won. Unfilled auctions have no network: left out."""
    return _report(
        publisher_id,
        period,
        filters,
        key="network",
        auction_where="network != ''",
        tail=f"{_ORDER_BY_REVENUE}, network",
    )


def by_country(publisher_id: uuid.UUID, period: Period, filters: Filters, limit: int) -> Query:
    query = _report(
        publisher_id,
        period,
        filters,
        key="country",
        tail=f"{_ORDER_BY_REVENUE}, country\nLIMIT {{limit:UInt32}}",
    )
    return Query(query.sql, {**query.params, "limit": limit})


def top_apps(publisher_id: uuid.UUID, period: Period, filters: Filters, limit: int) -> Query:
    query = _report(
        publisher_id,
        period,
        filters,
        key="app_id",
        tail=f"{_ORDER_BY_REVENUE}, app_id\nLIMIT {{limit:UInt32}}",
    )
    return Query(query.sql, {**query.params, "limit": limit})


def realtime(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """Per minute, so from the raw tables (the rollups are hourly); cheap for one hour."""
    return _report(
        publisher_id, period, filters, time_key="minute", tail="ORDER BY bucket", sources=_RAW
    )


def test_impressions(publisher_id: uuid.UUID, period: Period) -> Query:
    """Test-mode impressions (an integration being tried out), kept apart from every measure."""
    sql = f"""\
SELECT count() AS impressions
FROM events FINAL
WHERE {TENANT_FILTER}
      AND test = 1
      AND event = '{IMPRESSION}'
      AND received_at >= {{start:DateTime64(3, 'UTC')}} AND received_at < {{end:DateTime64(3, 'UTC')}}"""  # noqa: E501, S608
    return Query(sql, {"publisher_id": publisher_id, "start": period.start, "end": period.end})


# -- building blocks -------------------------------------------------------------------------


def _report(
    publisher_id: uuid.UUID,
    period: Period,
    filters: Filters,
    *,
    key: Dimension | None = None,
    time_key: TimeKey = "",
    tail: str = "",
    auction_where: str | None = None,
    sources: tuple[_Source, _Source] | None = None,
) -> Query:
    """Events and auctions measured together, grouped by a dimension `key` or by time."""
    needed = _filtered(filters) | ({key} if key else set())
    events, auctions = sources or _rollups(needed, period, time_key)
    params: dict[str, object] = (
        {"start_day": period.start.date(), "end_day": period.end.date()}
        if events.daily
        else {"start": period.start, "end": period.end}
    )
    alias = key or ("bucket" if time_key else "")
    branches = []
    for source, extra in ((events, _COUNTED_EVENTS), (auctions, auction_where)):
        where, filter_params = filters_where(
            publisher_id, filters, ivt=source.ivt, network=source.network
        )
        params.update(filter_params)
        bound = ("start_day", "end_day") if source.daily else ("start", "end")
        time_range = (
            f"{source.time} >= {{{bound[0]}:{source.time_type}}} "
            f"AND {source.time} < {{{bound[1]}:{source.time_type}}}"
        )
        conditions = "\n      AND ".join(part for part in (where, time_range, extra) if part)
        expression = source.bucket(time_key) if time_key else (key or "")
        selected = expression + ("" if expression == alias else f" AS {alias}")
        branches.append(
            f"    SELECT {selected}{', ' if selected else ''}{source.measures}\n"  # noqa: S608
            f"    FROM {source.table}\n"
            f"    WHERE {conditions}"
        )
    union = "\n    UNION ALL\n".join(branches)
    select = f"    {alias},\n" if alias else ""
    group = f"\nGROUP BY {alias}" if alias else ""
    sql = f"SELECT\n{select}{_MEASURES}\nFROM (\n{union}\n){group}\n{tail}".rstrip()
    return Query(sql, params)


def _rollups(needed: set[Dimension], period: Period, time_key: TimeKey) -> tuple[_Source, _Source]:
    """The smallest rollup pair with every needed dimension and a fine enough time grain."""
    daily_ok = period.whole_days and time_key != "hour"
    for events, auctions in _LEVELS:
        if needed <= events.dimensions and (daily_ok or not events.daily):
            return events, auctions
    raise AssertionError("the hourly rollups hold every dimension")  # pragma: no cover


def _filtered(filters: Filters) -> set[Dimension]:
    """The dimensions the filters constrain."""
    return {name for name in _ALL_DIMENSIONS if getattr(filters, name) is not None}


def filters_where(
    publisher_id: uuid.UUID, filters: Filters, *, ivt: bool, network: str = "network"
) -> tuple[str, dict[str, object]]:
    """The tenant, the exclusions and the optional filters, as fixed text and parameters."""
    conditions = [TENANT_FILTER, "test = 0"]
    params: dict[str, object] = {"publisher_id": publisher_id}
    if ivt:
        conditions.append("ivt = 0")
    optional: tuple[tuple[str, str, object], ...] = (
        ("app_id", "app_id = {app_id:UUID}", filters.app_id),
        ("placement_id", "placement_id = {placement_id:UUID}", filters.placement_id),
        ("network", f"{network} = {{network:String}}", filters.network),
        ("country", "country = {country:String}", filters.country),
        ("format", "format = {format:String}", filters.format),
    )
    for name, condition, value in optional:
        if value is not None:
            conditions.append(condition)
            params[name] = value
    return "\n      AND ".join(conditions), params
