"""Every report query, as a named function returning its SQL and parameters.

Ranges read the rollups of migration 0004 (`events_hourly`, `devices_daily`, `auctions_hourly`);
only `realtime` reads the raw tables, for one hour, so that a beacon shows within seconds.

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
from collections.abc import Sequence
from typing import NamedTuple

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
    "IMPRESSION",
    "REWARD",
    "TENANT_FILTER",
    "VIDEO_COMPLETE",
    "Query",
    "by_country",
    "by_network",
    "daily_devices",
    "overview",
    "realtime",
    "timeseries",
    "top_apps",
]

EVENTS_HOURLY = "events_hourly"
DEVICES_DAILY = "devices_daily"
AUCTIONS_HOURLY = "auctions_hourly"


TENANT_FILTER = "publisher_id = {publisher_id:UUID}"


class Query(NamedTuple):
    sql: str
    params: dict[str, object]


class _Source(NamedTuple):
    """How one table names what the filters and the shared projection need."""

    table: str
    time: str  # the time column, compared with {start} and {end}
    time_type: str
    network: str
    ivt: bool  # whether the table has the invalid-traffic flag (auctions do not)
    measures: str  # event, n_events, n_cpm, n_requests, n_fills


_EVENTS_ROLLUP = _Source(
    EVENTS_HOURLY,
    "hour",
    "DateTime('UTC')",
    "network",
    True,
    "event, events AS n_events, cpm_micros_sum AS n_cpm, "
    "toUInt64(0) AS n_requests, toUInt64(0) AS n_fills",
)
_AUCTIONS_ROLLUP = _Source(
    AUCTIONS_HOURLY,
    "hour",
    "DateTime('UTC')",
    "network",
    False,
    "'' AS event, toUInt64(0) AS n_events, toUInt64(0) AS n_cpm, "
    "requests AS n_requests, fills AS n_fills",
)
# FINAL: the raw tables collapse redelivered rows only on merge; realtime must not count them.
_EVENTS_RAW = _Source(
    "events FINAL",
    "received_at",
    "DateTime64(3, 'UTC')",
    "network",
    True,
    "event, toUInt64(1) AS n_events, cpm_micros AS n_cpm, "
    "toUInt64(0) AS n_requests, toUInt64(0) AS n_fills",
)
_AUCTIONS_RAW = _Source(
    "auctions FINAL",
    "received_at",
    "DateTime64(3, 'UTC')",
    "winner_network",
    False,
    "'' AS event, toUInt64(0) AS n_events, toUInt64(0) AS n_cpm, "
    "toUInt64(1) AS n_requests, toUInt64(filled) AS n_fills",
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
    return _report(publisher_id, period, filters, keys=())


def daily_devices(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """Unique devices per UTC day (days without any are absent); for DAU and ARPDAU."""
    where, params = _where(publisher_id, filters, ivt=True)
    sql = f"""\
SELECT day, uniqMerge(devices) AS unique_devices
FROM {DEVICES_DAILY}
WHERE {where}
      AND day >= {{start_day:Date}} AND day < {{end_day:Date}}
GROUP BY day
ORDER BY day"""  # noqa: S608 - only this module's names are spliced in
    return Query(sql, {**params, "start_day": period.start.date(), "end_day": period.end.date()})


def timeseries(
    publisher_id: uuid.UUID, period: Period, filters: Filters, granularity: Granularity
) -> Query:
    """One row per hour or UTC day that has data; the service fills the gaps."""
    bucket = "hour" if granularity == "hour" else "toStartOfDay(hour, 'UTC')"
    return _report(
        publisher_id, period, filters, keys=((bucket, "bucket"),), tail="ORDER BY bucket"
    )


def by_network(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """One row per network that served or won. Unfilled auctions have no network: left out."""
    return _report(
        publisher_id,
        period,
        filters,
        keys=(("network", "network"),),
        auction_where="network != ''",
        tail=f"{_ORDER_BY_REVENUE}, network",
    )


def by_country(publisher_id: uuid.UUID, period: Period, filters: Filters, limit: int) -> Query:
    query = _report(
        publisher_id,
        period,
        filters,
        keys=(("country", "country"),),
        tail=f"{_ORDER_BY_REVENUE}, country\nLIMIT {{limit:UInt32}}",
    )
    return Query(query.sql, {**query.params, "limit": limit})


def top_apps(publisher_id: uuid.UUID, period: Period, filters: Filters, limit: int) -> Query:
    query = _report(
        publisher_id,
        period,
        filters,
        keys=(("app_id", "app_id"),),
        tail=f"{_ORDER_BY_REVENUE}, app_id\nLIMIT {{limit:UInt32}}",
    )
    return Query(query.sql, {**query.params, "limit": limit})


def realtime(publisher_id: uuid.UUID, period: Period, filters: Filters) -> Query:
    """Per minute, so from the raw tables (the rollups are hourly); cheap for one hour."""
    minute = "toStartOfMinute(toDateTime(received_at, 'UTC'))"
    return _report(
        publisher_id,
        period,
        filters,
        keys=((minute, "bucket"),),
        tail="ORDER BY bucket",
        sources=(_EVENTS_RAW, _AUCTIONS_RAW),
    )


# -- building blocks -------------------------------------------------------------------------


def _report(
    publisher_id: uuid.UUID,
    period: Period,
    filters: Filters,
    *,
    keys: Sequence[tuple[str, str]],
    tail: str = "",
    auction_where: str | None = None,
    sources: tuple[_Source, _Source] = (_EVENTS_ROLLUP, _AUCTIONS_ROLLUP),
) -> Query:
    """Events and auctions measured together, grouped by `keys` (expression, alias)."""
    events, auctions = sources
    inner_keys = "".join(
        expression + ("" if expression == alias else f" AS {alias}") + ", "
        for expression, alias in keys
    )
    aliases = ", ".join(alias for _, alias in keys)
    params: dict[str, object] = {"start": period.start, "end": period.end}
    branches = []
    for source, extra in ((events, _COUNTED_EVENTS), (auctions, auction_where)):
        where, filter_params = _where(publisher_id, filters, ivt=source.ivt, network=source.network)
        params.update(filter_params)
        time_range = (
            f"{source.time} >= {{start:{source.time_type}}} "
            f"AND {source.time} < {{end:{source.time_type}}}"
        )
        conditions = "\n      AND ".join(part for part in (where, time_range, extra) if part)
        branches.append(
            f"    SELECT {inner_keys}{source.measures}\n"  # noqa: S608 - our own names only
            f"    FROM {source.table}\n"
            f"    WHERE {conditions}"
        )
    union = "\n    UNION ALL\n".join(branches)
    select = f"    {aliases},\n" if keys else ""
    group = f"\nGROUP BY {aliases}" if keys else ""
    sql = f"SELECT\n{select}{_MEASURES}\nFROM (\n{union}\n){group}\n{tail}".rstrip()
    return Query(sql, params)


def _where(
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
