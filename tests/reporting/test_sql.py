"""The generated SQL: ranges read the rollups, every branch is tenant-filtered and excludes
test and invalid traffic, and only fixed text is spliced in."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from apex_mediation.reporting import service, sql
from apex_mediation.reporting.params import Filters, parse_period, realtime_period
from apex_mediation.stores.analytics import Analytics

PUBLISHER = uuid.uuid4()
PERIOD = parse_period("2026-03-01", "2026-03-07", datetime(2026, 3, 10, tzinfo=UTC))
ALL_FILTERS = Filters(
    app_id=uuid.uuid4(),
    placement_id=uuid.uuid4(),
    network="admob'; DROP TABLE events; --",
    country="US",
    format="banner",
)

RANGE_QUERIES = {
    "overview": lambda f: sql.overview(PUBLISHER, PERIOD, f),
    "timeseries hour": lambda f: sql.timeseries(PUBLISHER, PERIOD, f, "hour"),
    "timeseries day": lambda f: sql.timeseries(PUBLISHER, PERIOD, f, "day"),
    "by_network": lambda f: sql.by_network(PUBLISHER, PERIOD, f),
    "by_country": lambda f: sql.by_country(PUBLISHER, PERIOD, f, 10),
    "top_apps": lambda f: sql.top_apps(PUBLISHER, PERIOD, f, 10),
}


def _tables(text: str) -> list[str]:
    return re.findall(r"\bFROM (\w+(?: FINAL)?)", text)


# The rollup each report reads over whole days, unfiltered: the smallest that holds its key.
NARROWEST = {
    "overview": "totals_hourly",
    "timeseries hour": "totals_hourly",
    "timeseries day": "totals_hourly",
    "by_network": "inventory_daily",
    "by_country": "country_daily",
    "top_apps": "inventory_daily",
}


def _pair(level: str) -> list[str]:
    return [f"events_{level}", f"auctions_{level}"]


@pytest.mark.parametrize("name", RANGE_QUERIES)
@pytest.mark.parametrize("filters", [Filters(), ALL_FILTERS], ids=["unfiltered", "filtered"])
def test_range_reports_read_the_rollups_only(name: str, filters: Filters) -> None:
    query = RANGE_QUERIES[name](filters)
    level = NARROWEST[name] if filters == Filters() else "hourly"
    assert _tables(query.sql) == _pair(level)
    _assert_guarded(query, branches=2)


@pytest.mark.parametrize(
    ("filters", "key", "level"),
    [
        (Filters(country="US"), "app_id", "country_daily"),
        (Filters(app_id=uuid.uuid4(), format="banner"), "country", "country_daily"),
        (Filters(placement_id=uuid.uuid4()), "country", "hourly"),
        (Filters(network="admob", format="banner"), "app_id", "inventory_daily"),
        (Filters(country="US"), "network", "hourly"),
    ],
)
def test_a_filter_moves_the_report_to_a_rollup_that_holds_it(
    filters: Filters, key: str, level: str
) -> None:
    query = {
        "app_id": lambda: sql.top_apps(PUBLISHER, PERIOD, filters, 10),
        "country": lambda: sql.by_country(PUBLISHER, PERIOD, filters, 10),
        "network": lambda: sql.by_network(PUBLISHER, PERIOD, filters),
    }[key]()
    assert _tables(query.sql) == _pair(level)


def test_daily_rollups_serve_only_whole_days() -> None:
    hours = parse_period("2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z", PERIOD.end)
    assert _tables(sql.by_network(PUBLISHER, hours, Filters()).sql) == _pair("hourly")
    assert _tables(sql.overview(PUBLISHER, hours, Filters()).sql) == _pair("totals_hourly")
    daily = sql.by_network(PUBLISHER, PERIOD, Filters())
    assert daily.params["start_day"] == PERIOD.start.date()
    assert "day >= {start_day:Date} AND day < {end_day:Date}" in daily.sql
    assert "start" not in daily.params


@pytest.mark.parametrize(
    ("filters", "table"),
    [
        (Filters(), "devices_publisher_daily"),
        (Filters(app_id=uuid.uuid4(), country="US"), "devices_app_country_daily"),
        (ALL_FILTERS, sql.DEVICES_DAILY),
    ],
)
def test_dau_reads_the_smallest_devices_rollup(filters: Filters, table: str) -> None:
    query = sql.daily_devices(PUBLISHER, PERIOD, filters)
    assert _tables(query.sql) == [table]
    assert query.sql.count(sql.TENANT_FILTER) == 1
    assert "test = 0" in query.sql and "ivt = 0" in query.sql
    assert query.params["start_day"] == PERIOD.start.date()
    assert query.params["end_day"] == PERIOD.end.date()


def test_realtime_reads_the_raw_tables_deduplicated() -> None:
    query = sql.realtime(PUBLISHER, realtime_period(datetime.now(UTC)), ALL_FILTERS)
    assert _tables(query.sql) == ["events FINAL", "auctions FINAL"]
    _assert_guarded(query, branches=2)
    assert "winner_network = {network:String}" in query.sql  # auctions: the network that won


def _assert_guarded(query: sql.Query, branches: int) -> None:
    text = query.sql
    assert text.count(sql.TENANT_FILTER) == branches
    assert text.count("test = 0") == branches
    assert text.count("ivt = 0") == 1  # events only: auctions carry no ivt flag
    assert query.params["publisher_id"] == PUBLISHER
    # Filter values are parameters, never text.
    for value in query.params.values():
        if isinstance(value, str):
            assert value not in text


def test_filters_appear_only_when_given() -> None:
    bare = sql.overview(PUBLISHER, PERIOD, Filters())
    assert set(bare.params) == {"publisher_id", "start", "end"}
    filtered = sql.overview(PUBLISHER, PERIOD, ALL_FILTERS)
    assert set(filtered.params) == {
        "publisher_id",
        "start",
        "end",
        "app_id",
        "placement_id",
        "network",
        "country",
        "format",
    }
    for condition in ("app_id = {app_id:UUID}", "placement_id = {placement_id:UUID}"):
        assert filtered.sql.count(condition) == 2


def test_limits_are_parameters() -> None:
    query = sql.top_apps(PUBLISHER, PERIOD, Filters(), 7)
    assert query.params["limit"] == 7
    assert query.sql.endswith("LIMIT {limit:UInt32}")


async def test_the_chokepoint_refuses_a_query_without_the_tenant(analytics: Analytics) -> None:
    with pytest.raises(RuntimeError, match="publisher_id"):
        await service.fetch(analytics, sql.Query("SELECT 1", {}))
    unbound = sql.overview(PUBLISHER, PERIOD, Filters())
    with pytest.raises(RuntimeError, match="publisher_id"):
        await service.fetch(
            analytics, sql.Query(unbound.sql, {**unbound.params, "publisher_id": ""})
        )


def test_snapshot_of_a_filtered_breakdown() -> None:
    """The whole text once, so a change to the shared shape shows up in review."""
    filters = Filters(app_id=uuid.uuid4(), country="US")
    assert sql.by_country(PUBLISHER, PERIOD, filters, 10).sql == SNAPSHOT


SNAPSHOT = """\
SELECT
    country,
    sumIf(n_events, event = 'impression') AS impressions,
    sumIf(n_events, event = 'click') AS clicks,
    sumIf(n_events, event = 'video_complete') AS video_completes,
    sumIf(n_events, event = 'reward') AS rewards,
    sumIf(n_cpm, event = 'impression') AS cpm_micros,
    sum(n_requests) AS requests,
    sum(n_fills) AS fills
FROM (
    SELECT country, event, events AS n_events, cpm_micros_sum AS n_cpm, \
toUInt64(0) AS n_requests, toUInt64(0) AS n_fills
    FROM events_country_daily
    WHERE publisher_id = {publisher_id:UUID}
      AND test = 0
      AND ivt = 0
      AND app_id = {app_id:UUID}
      AND country = {country:String}
      AND day >= {start_day:Date} AND day < {end_day:Date}
      AND event IN ('impression', 'click', 'video_complete', 'reward')
    UNION ALL
    SELECT country, '' AS event, toUInt64(0) AS n_events, toUInt64(0) AS n_cpm, \
requests AS n_requests, fills AS n_fills
    FROM auctions_country_daily
    WHERE publisher_id = {publisher_id:UUID}
      AND test = 0
      AND app_id = {app_id:UUID}
      AND country = {country:String}
      AND day >= {start_day:Date} AND day < {end_day:Date}
)
GROUP BY country
ORDER BY cpm_micros DESC, impressions DESC, requests DESC, country
LIMIT {limit:UInt32}"""
