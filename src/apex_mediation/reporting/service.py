"""Reports: run the queries of sql.py through one chokepoint and turn rows into typed results.

Money stays integer micros here. `cpm_micros` is the sum of the impressions' CPMs (USD micros
per thousand), kept unrounded until the end: revenue = cpm_micros / 1000 and eCPM =
cpm_micros / impressions, each rounded half up to a whole micro once. Ratios are floats rounded
to 6 decimal places, 0 when their denominator is 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from apex_mediation.reporting import sql
from apex_mediation.reporting.params import Filters, Granularity, Period, realtime_period
from apex_mediation.stores.analytics import Analytics

__all__ = [
    "Breakdown",
    "Metrics",
    "Overview",
    "Point",
    "Row",
    "Series",
    "by_country",
    "by_network",
    "fetch",
    "fetch_file",
    "overview",
    "overview_and_series",
    "realtime",
    "realtime_test_impressions",
    "timeseries",
    "top_apps",
]


@dataclass(frozen=True)
class Metrics:
    """The additive counts a report row is made of; everything else derives from them."""

    impressions: int = 0
    clicks: int = 0
    video_completes: int = 0
    rewards: int = 0
    cpm_micros: int = 0
    requests: int = 0
    fills: int = 0

    @classmethod
    def of(cls, row: dict[str, Any]) -> Metrics:
        return cls(**{f.name: int(row[f.name]) for f in fields(cls)})

    def __add__(self, other: Metrics) -> Metrics:
        return Metrics(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def revenue_micros(self) -> int:
        return _div_round(self.cpm_micros, 1000)

    @property
    def ecpm_micros(self) -> int:
        return _div_round(self.cpm_micros, self.impressions)

    @property
    def fill_rate(self) -> float:
        return _ratio(self.fills, self.requests)

    @property
    def ctr(self) -> float:
        return _ratio(self.clicks, self.impressions)

    @property
    def show_rate(self) -> float:
        """Impressions per fill: how many of the ads served were shown."""
        return _ratio(self.impressions, self.fills)


@dataclass(frozen=True)
class Overview:
    period: Period
    metrics: Metrics
    # None unless the period is whole UTC days: devices are counted per day.
    dau: float | None
    arpdau_micros: int | None


@dataclass(frozen=True)
class Point:
    at: datetime
    metrics: Metrics


@dataclass(frozen=True)
class Series:
    period: Period
    granularity: str
    points: list[Point]  # every bucket of the period, zeros included

    @property
    def totals(self) -> Metrics:
        return sum((point.metrics for point in self.points), Metrics())


@dataclass(frozen=True)
class Row:
    key: str  # network, country code or app id
    metrics: Metrics


@dataclass(frozen=True)
class Breakdown:
    period: Period
    rows: list[Row]


def _require_tenant(query: sql.Query) -> None:
    if sql.TENANT_FILTER not in query.sql or not isinstance(
        query.params.get("publisher_id"), uuid.UUID
    ):
        raise RuntimeError("a report query must be filtered by publisher_id")


async def fetch(analytics: Analytics, query: sql.Query) -> list[dict[str, Any]]:
    """The one way reports reach the store: a query without its tenant filter never runs."""
    _require_tenant(query)
    return await analytics.query(query.sql, query.params)


async def fetch_file(analytics: Analytics, query: sql.Query, fmt: str) -> bytes:
    """`fetch` for exports: the rows as ClickHouse writes them in `fmt`."""
    _require_tenant(query)
    return await analytics.query_bytes(query.sql, query.params, fmt)


async def overview(
    analytics: Analytics, publisher_id: uuid.UUID, period: Period, filters: Filters
) -> Overview:
    rows = await fetch(analytics, sql.overview(publisher_id, period, filters))
    metrics = Metrics.of(rows[0]) if rows else Metrics()
    return await _with_devices(analytics, publisher_id, period, filters, metrics)


async def overview_and_series(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    period: Period,
    filters: Filters,
    granularity: Granularity,
) -> tuple[Overview, Series]:
    """Both, for a page that shows both: the totals are the series' sum, one query fewer."""
    series = await timeseries(analytics, publisher_id, period, filters, granularity)
    totals = await _with_devices(analytics, publisher_id, period, filters, series.totals)
    return totals, series


async def _with_devices(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    period: Period,
    filters: Filters,
    metrics: Metrics,
) -> Overview:
    if not period.whole_days:
        return Overview(period, metrics, dau=None, arpdau_micros=None)
    days = await fetch(analytics, sql.daily_devices(publisher_id, period, filters))
    device_days = sum(int(day["unique_devices"]) for day in days)
    # Averaged over the days that saw a device, so days before launch do not dilute it.
    dau = round(device_days / len(days), 2) if days else 0.0
    return Overview(period, metrics, dau, _div_round(metrics.revenue_micros, device_days))


async def timeseries(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    period: Period,
    filters: Filters,
    granularity: Granularity,
) -> Series:
    rows = await fetch(analytics, sql.timeseries(publisher_id, period, filters, granularity))
    step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
    return Series(period, granularity, _fill(rows, _buckets(period, step)))


async def by_network(
    analytics: Analytics, publisher_id: uuid.UUID, period: Period, filters: Filters
) -> Breakdown:
    rows = await fetch(analytics, sql.by_network(publisher_id, period, filters))
    return Breakdown(period, [Row(str(row["network"]), Metrics.of(row)) for row in rows])


async def by_country(
    analytics: Analytics, publisher_id: uuid.UUID, period: Period, filters: Filters, limit: int
) -> Breakdown:
    rows = await fetch(analytics, sql.by_country(publisher_id, period, filters, limit))
    return Breakdown(period, [Row(str(row["country"]), Metrics.of(row)) for row in rows])


async def top_apps(
    analytics: Analytics, publisher_id: uuid.UUID, period: Period, filters: Filters, limit: int
) -> Breakdown:
    rows = await fetch(analytics, sql.top_apps(publisher_id, period, filters, limit))
    return Breakdown(period, [Row(str(row["app_id"]), Metrics.of(row)) for row in rows])


async def realtime(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    filters: Filters,
    now: datetime | None = None,
) -> Series:
    """The last hour per minute, read from the raw tables."""
    period = realtime_period(now or datetime.now(UTC))
    rows = await fetch(analytics, sql.realtime(publisher_id, period, filters))
    return Series(period, "minute", _fill(rows, _buckets(period, timedelta(minutes=1))))


async def realtime_test_impressions(
    analytics: Analytics, publisher_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Test-mode impressions over the realtime period: shown apart, never in the figures."""
    period = realtime_period(now or datetime.now(UTC))
    rows = await fetch(analytics, sql.test_impressions(publisher_id, period))
    return int(rows[0]["impressions"]) if rows else 0


# -- helpers ---------------------------------------------------------------------------------


def _buckets(period: Period, step: timedelta) -> Iterator[datetime]:
    """Bucket starts covering the period; a day bucket starts at midnight even when the period
    does not."""
    at = period.start
    if step == timedelta(days=1):
        at = at.replace(hour=0)
    while at < period.end:
        yield at
        at += step


def _fill(rows: list[dict[str, Any]], buckets: Iterator[datetime]) -> list[Point]:
    found = {_utc(row["bucket"]): Metrics.of(row) for row in rows}
    return [Point(at, found.pop(at, Metrics())) for at in buckets]


def _utc(text: str) -> datetime:
    # The store returns DateTime values as "YYYY-MM-DD hh:mm:ss" in UTC (the session zone).
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _div_round(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers; 0 over 0 is 0."""
    if denominator <= 0:
        return 0
    return (2 * numerator + denominator) // (2 * denominator)


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 6) if denominator > 0 else 0.0
