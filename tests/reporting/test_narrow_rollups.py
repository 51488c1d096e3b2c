"""The narrow rollups of migration 0007 give the same figures as the full hourly rollup, for
every report and filter that picks them, and are backfilled from the 0004 rollups."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from apex_mediation.reporting import service, sql
from apex_mediation.reporting.params import Filters, Period
from apex_mediation.stores.analytics import Analytics
from apex_mediation.stores.analytics_migrations import (
    MIGRATIONS_DIR,
    _statements,
    migrate_analytics,
)
from tests.reporting.data import DAY, Seeded, seed

PERIOD = Period(DAY, DAY + timedelta(days=2))
FULL = sql._LEVELS[-1]  # events_hourly and auctions_hourly: every dimension


def _filter_sets(s: Seeded) -> list[Filters]:
    return [
        Filters(),
        Filters(app_id=s.app1),
        Filters(country="DE"),
        Filters(app_id=s.app1, country="US", format="banner"),
        Filters(network="admob"),
        Filters(placement_id=s.placement2, format="rewarded"),
    ]


# The shapes of the reports (keyword arguments of sql._report).
REPORTS: dict[str, dict[str, Any]] = {
    "overview": {},
    "day": {"time_key": "day"},
    "hour": {"time_key": "hour"},
    "network": {"key": "network", "auction_where": "network != ''"},
    "country": {"key": "country"},
    "app": {"key": "app_id"},
}


def _sorted(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(sorted(row.items())) for row in rows)


async def _assert_same_figures(analytics: Analytics, s: Seeded) -> None:
    publisher = s.publisher_id
    tables_read: set[str] = set()
    for filters in _filter_sets(s):
        for name, shape in REPORTS.items():
            narrow = sql._report(publisher, PERIOD, filters, **shape)
            full = sql._report(publisher, PERIOD, filters, **shape, sources=FULL)
            tables_read.update(t for t in narrow.sql.split() if t.startswith("events_"))
            got = _sorted(await service.fetch(analytics, narrow))
            assert got == _sorted(await service.fetch(analytics, full)), (name, filters)
            assert got, (name, filters)  # the seed has traffic for every filter set
        devices = sql.daily_devices(publisher, PERIOD, filters)
        table = devices.sql.split("FROM ")[1].split()[0]
        full_devices = sql.Query(devices.sql.replace(table, sql.DEVICES_DAILY), devices.params)
        assert await service.fetch(analytics, devices) == await service.fetch(
            analytics, full_devices
        ), filters
    # Every narrow level took part, so the comparison above covered each of them.
    assert {"events_totals_hourly", "events_inventory_daily", "events_country_daily"} <= (
        tables_read
    )


async def test_narrow_rollups_match_the_full_rollup(analytics: Analytics) -> None:
    await _assert_same_figures(analytics, await seed(analytics, uuid.uuid4()))


async def test_the_reports_add_up_from_the_narrow_rollups(analytics: Analytics) -> None:
    seeded = await seed(analytics, uuid.uuid4())
    result = await service.overview(analytics, seeded.publisher_id, PERIOD, Filters())
    assert (result.metrics.impressions, result.metrics.cpm_micros) == (4, 10_500_001)
    assert (result.metrics.requests, result.metrics.fills) == (7, 4)
    assert result.dau == 1.5  # DAY {d1, d2}, NEXT_DAY {d3}
    networks = await service.by_network(analytics, seeded.publisher_id, PERIOD, Filters())
    assert [(row.key, row.metrics.impressions, row.metrics.fills) for row in networks.rows] == [
        ("admob", 3, 3),
        ("applovin", 1, 1),
    ]


@pytest.mark.parametrize("data_before", [True, False], ids=["backfilled", "empty"])
async def test_migration_0007_backfills_from_the_hourly_rollups(
    empty_store: Analytics, tmp_path: Path, data_before: bool
) -> None:
    earlier = tmp_path / "migrations"
    earlier.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name < "0007":
            shutil.copy(path, earlier / path.name)
    await migrate_analytics(empty_store, earlier)
    seeded = await seed(empty_store, uuid.uuid4()) if data_before else None
    assert "0007_narrow_rollups" in await migrate_analytics(empty_store)
    if seeded is None:  # traffic after the migration reaches the new tables through the views
        seeded = await seed(empty_store, uuid.uuid4())
    await _assert_same_figures(empty_store, seeded)
    # The migration run again (as after a failure halfway) adds nothing: each backfill runs
    # only into an empty table.
    totals = "SELECT sum(events) AS n FROM events_totals_hourly"
    before = await empty_store.query(totals)
    for statement in _statements((MIGRATIONS_DIR / "0007_narrow_rollups.sql").read_text()):
        await empty_store.command(statement)
    assert await empty_store.query(totals) == before


@pytest.mark.parametrize("granularity", ["hour", "day"])
async def test_overview_from_the_series_equals_the_overview(
    analytics: Analytics, granularity: str
) -> None:
    seeded = await seed(analytics, uuid.uuid4())
    filters = Filters(app_id=seeded.app1)
    alone = await service.overview(analytics, seeded.publisher_id, PERIOD, filters)
    together, series = await service.overview_and_series(
        analytics,
        seeded.publisher_id,
        PERIOD,
        filters,
        granularity,  # type: ignore[arg-type]
    )
    assert together == alone and alone.metrics.impressions == 3
    assert series == await service.timeseries(
        analytics,
        seeded.publisher_id,
        PERIOD,
        filters,
        granularity,  # type: ignore[arg-type]
    )
