"""The analytics store on the real engine.

Each test runs twice: on `ChdbAnalytics`, and on `ClickHouseServerAnalytics` through
clickhouse-connect's chDB backend (a `chdb:///path` URL), so the server code path runs too.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from apex_mediation.stores import analytics
from apex_mediation.stores.analytics import (
    Analytics,
    AnalyticsError,
    ChdbAnalytics,
    ClickHouseServerAnalytics,
    open_analytics,
)
from apex_mediation.stores.analytics_migrations import (
    migrate_analytics,
    pending_analytics_migrations,
)

ENGINES = ["chdb", "clickhouse-connect"]


def _url(engine: str, chdb_dir: Path) -> str | None:
    return None if engine == "chdb" else f"chdb://{chdb_dir}"


def _database() -> str:
    return f"test_{secrets.token_hex(6)}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(engine: str, chdb_dir: Path) -> AsyncIterator[Analytics]:
    analytics = await open_analytics(_url(engine, chdb_dir), chdb_dir, _database())
    try:
        yield analytics
    finally:
        await analytics.command(f"DROP DATABASE IF EXISTS {analytics.database} SYNC")
        await analytics.close()


async def test_open_picks_the_engine_and_defaults_to_its_database(
    store: Analytics, engine: str
) -> None:
    expected = ChdbAnalytics if engine == "chdb" else ClickHouseServerAnalytics
    assert isinstance(store, expected)
    assert await store.query("SELECT currentDatabase() AS db") == [{"db": store.database}]
    assert await store.ping() is True


NASTY = "it's \"quoted\"; DROP TABLE t; --\ttab \\N back\\slash \\' {x:String}\nline\r\0end"


async def test_string_params_arrive_verbatim(store: Analytics) -> None:
    rows = await store.query("SELECT {s:String} AS s, length(s) AS n", {"s": NASTY})
    assert rows == [{"s": NASTY, "n": len(NASTY.encode())}]


async def test_params_cannot_inject_sql(store: Analytics) -> None:
    await store.command("CREATE TABLE t (name String) ENGINE = MergeTree ORDER BY name")
    await store.insert("t", [{"name": "alice"}, {"name": "bob"}])
    sql = "SELECT count() AS n FROM t WHERE name = {name:String}"
    assert await store.query(sql, {"name": "x' OR '1'='1"}) == [{"n": 0}]
    assert await store.query(sql, {"name": "alice"}) == [{"n": 1}]
    assert await store.query("SELECT count() AS n FROM t") == [{"n": 2}]


async def test_params_of_other_types(store: Analytics) -> None:
    uid = uuid4()
    aware = datetime(2024, 1, 2, 5, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    sql = (
        "SELECT {u:UUID} AS u, {t64:DateTime64(3)} AS t64, {t:DateTime} AS t, {d:Date} AS d,"
        " {big:UInt64} AS big, {neg:Int64} AS neg, {f:Float64} AS f, {b:Bool} AS b,"
        " {none:Nullable(String)} AS none, {arr:Array(String)} AS arr"
    )
    params = {
        "u": uid,
        "t64": aware,  # aware: converted to UTC
        "t": datetime(2024, 1, 2, 3, 4, 5, 999999),  # DateTime has no fraction to keep
        "d": date(2024, 2, 29),
        "big": 2**64 - 1,  # integer micros beyond 2**53 must not pass through a float
        "neg": -(2**63),
        "f": 1.5,
        "b": True,
        "none": None,
        "arr": ["a", "b'c", "d\\e"],
    }
    assert await store.query(sql, params) == [
        {
            "u": str(uid),
            "t64": "2024-01-02 03:04:05.678",
            "t": "2024-01-02 03:04:05",
            "d": "2024-02-29",
            "big": 2**64 - 1,
            "neg": -(2**63),
            "f": 1.5,
            "b": True,
            "none": None,
            "arr": ["a", "b'c", "d\\e"],
        }
    ]


EVENTS = """
CREATE TABLE events (id UUID, at DateTime64(3), micros UInt64, name String, tags Array(String))
ENGINE = MergeTree ORDER BY (at, id)
"""


async def test_insert_and_query_roundtrip(store: Analytics) -> None:
    await store.command(EVENTS)
    first, second = uuid4(), uuid4()
    at = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    await store.insert(
        "events",
        [
            {"id": first, "at": at, "micros": 2**63 + 1, "name": "ünïcode ✓", "tags": ["x"]},
            {"id": second, "at": at + timedelta(seconds=1), "micros": 0, "name": NASTY, "tags": []},
        ],
    )
    rows = await store.query(
        "SELECT id, at, toUnixTimestamp64Milli(at) AS ms, micros, name, tags FROM events "
        "WHERE id IN {ids:Array(UUID)} ORDER BY at",
        {"ids": [first, second]},
    )
    assert rows == [
        {
            "id": str(first),
            "at": "2024-01-02 03:04:05.678",
            "ms": int(at.timestamp() * 1000),
            "micros": 2**63 + 1,
            "name": "ünïcode ✓",
            "tags": ["x"],
        },
        {
            "id": str(second),
            "at": "2024-01-02 03:04:06.678",
            "ms": int(at.timestamp() * 1000) + 1000,
            "micros": 0,
            "name": NASTY,
            "tags": [],
        },
    ]


@pytest.fixture
def new_york_time() -> Iterator[None]:
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


@pytest.mark.usefixtures("new_york_time")
async def test_naive_datetimes_are_utc_whatever_the_local_zone(store: Analytics) -> None:
    await store.command(EVENTS)
    naive = datetime(2024, 1, 2, 3, 4, 5)
    await store.insert("events", [{"id": uuid4(), "at": naive, "micros": 1, "name": "n"}])
    rows = await store.query(
        "SELECT toUnixTimestamp(at) AS s FROM events WHERE at = {at:DateTime64(3)}", {"at": naive}
    )
    assert rows == [{"s": int(naive.replace(tzinfo=UTC).timestamp())}]


async def test_insert_refuses_bad_input(store: Analytics) -> None:
    await store.command(EVENTS)
    await store.insert("events", [])  # nothing to do
    with pytest.raises(AnalyticsError, match="INSERT INTO"):
        await store.insert("events", [{"id": uuid4(), "no_such_column": 1}])
    with pytest.raises(ValueError, match="same keys"):
        await store.insert("events", [{"name": "a"}, {"micros": 1}])
    with pytest.raises(ValueError, match="identifier"):
        await store.insert("events; DROP TABLE events", [{"name": "a"}])
    assert await store.query("SELECT count() AS n FROM events") == [{"n": 0}]


async def test_engine_errors_are_wrapped_and_name_the_statement(store: Analytics) -> None:
    with pytest.raises(AnalyticsError) as caught:
        await store.query("SELEC 1\nFROM somewhere")
    assert caught.value.statement == "SELEC 1"
    assert str(caught.value).startswith("SELEC 1: ")
    assert "Syntax error" in str(caught.value)
    assert caught.value.__cause__ is not None

    with pytest.raises(AnalyticsError, match=r"^SELECT \* FROM missing_table: .*missing_table"):
        await store.query("SELECT * FROM missing_table")
    with pytest.raises(AnalyticsError, match=r"^DROP TABLE not_there: "):
        await store.command("DROP TABLE not_there")


async def test_queries_run_concurrently_without_interfering(store: Analytics) -> None:
    results = await asyncio.gather(
        *(store.query("SELECT {i:UInt32} * 2 AS v", {"i": i}) for i in range(20))
    )
    assert results == [[{"v": i * 2}] for i in range(20)]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_every_call(store: Analytics) -> None:
    ok_before = _sample("analytics_queries_total", kind="query", outcome="ok")
    error_before = _sample("analytics_queries_total", kind="query", outcome="error")
    seconds_before = _sample("analytics_query_seconds_count", kind="query")
    await store.query("SELECT 1 AS one")
    await store.query("SELECT 2 AS two")
    with pytest.raises(AnalyticsError):
        await store.query("SELECT * FROM missing_table")
    assert _sample("analytics_queries_total", kind="query", outcome="ok") == ok_before + 2
    assert _sample("analytics_queries_total", kind="query", outcome="error") == error_before + 1
    assert _sample("analytics_query_seconds_count", kind="query") == seconds_before + 3

    inserts_before = _sample("analytics_queries_total", kind="insert", outcome="ok")
    await store.command(EVENTS)
    await store.insert("events", [{"id": uuid4(), "name": "a"}])
    assert _sample("analytics_queries_total", kind="insert", outcome="ok") == inserts_before + 1


async def test_closed_store_refuses_calls(engine: str, chdb_dir: Path) -> None:
    analytics = await open_analytics(_url(engine, chdb_dir), chdb_dir, _database())
    await analytics.command(f"DROP DATABASE {analytics.database}")
    await analytics.close()
    await analytics.close()  # closing twice is harmless
    assert await analytics.ping() is False
    with pytest.raises(AnalyticsError, match="closed"):
        await analytics.query("SELECT 1")


# -- migrations ------------------------------------------------------------------------------


async def test_shipped_migrations_apply_once(store: Analytics) -> None:
    shipped = sorted(
        path.stem
        for path in (Path(analytics.__file__).parent / "clickhouse_migrations").glob("*.sql")
    )
    assert shipped[:2] == ["0001_sdk_telemetry", "0002_auctions_and_bids"]
    assert await pending_analytics_migrations(store) == shipped
    assert await migrate_analytics(store) == shipped
    assert await migrate_analytics(store) == []
    assert await pending_analytics_migrations(store) == []
    recorded = await store.query("SELECT version FROM schema_migrations ORDER BY version")
    assert recorded == [{"version": name} for name in shipped]

    columns = await store.query(
        "SELECT name, type FROM system.columns "
        "WHERE database = currentDatabase() AND table = 'sdk_telemetry' ORDER BY position"
    )
    assert [(c["name"], c["type"]) for c in columns] == [
        ("event_id", "String"),
        ("received_at", "DateTime64(3)"),
        ("publisher_id", "UUID"),
        ("app_id", "UUID"),
        ("sdk_platform", "LowCardinality(String)"),
        ("sdk_version", "LowCardinality(String)"),
        ("event", "LowCardinality(String)"),
        ("detail", "String"),
    ]


async def test_sdk_telemetry_collapses_redelivered_events(store: Analytics) -> None:
    await migrate_analytics(store)
    event = {
        "event_id": "evt-1",
        "received_at": datetime.now(UTC),
        "publisher_id": uuid4(),
        "app_id": uuid4(),
        "sdk_platform": "android",
        "sdk_version": "4.2.0",
        "event": "init",
        "detail": "{}",
    }
    await store.insert("sdk_telemetry", [event])
    await store.insert("sdk_telemetry", [event])  # at-least-once delivery: the same event again
    assert await store.query("SELECT count() AS n FROM sdk_telemetry FINAL") == [{"n": 1}]


def _write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


async def test_migrations_from_a_folder(store: Analytics, tmp_path: Path) -> None:
    _write(
        tmp_path,
        "0001_first.sql",
        "-- two statements in one file\n"
        "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "INSERT INTO a VALUES (1);\n"
        "-- a trailing comment is not a statement\n",
    )
    _write(
        tmp_path,
        "0002_second.sql",
        "CREATE TABLE IF NOT EXISTS b (y String) ENGINE = MergeTree ORDER BY y",
    )
    _write(tmp_path, "notes.txt", "not a migration")
    _write(tmp_path, "12_bad_name.sql", "not a migration either")

    assert await pending_analytics_migrations(store, tmp_path) == ["0001_first", "0002_second"]
    assert await migrate_analytics(store, tmp_path) == ["0001_first", "0002_second"]
    assert await store.query("SELECT x FROM a") == [{"x": 1}]

    _write(tmp_path, "0003_third.sql", "ALTER TABLE b ADD COLUMN IF NOT EXISTS z UInt8;")
    assert await pending_analytics_migrations(store, tmp_path) == ["0003_third"]
    assert await migrate_analytics(store, tmp_path) == ["0003_third"]
    assert await migrate_analytics(store, tmp_path) == []
    assert await store.query("SELECT x FROM a") == [{"x": 1}]  # 0001 did not run again


async def test_failed_migration_is_not_recorded_and_runs_again(
    store: Analytics, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        "0001_broken.sql",
        "CREATE TABLE IF NOT EXISTS c (x UInt8) ENGINE = Log;\nCREATE TABLEX oops;\n",
    )
    with pytest.raises(AnalyticsError, match="CREATE TABLEX oops"):
        await migrate_analytics(store, tmp_path)
    assert await pending_analytics_migrations(store, tmp_path) == ["0001_broken"]

    _write(
        tmp_path,
        "0001_broken.sql",
        "CREATE TABLE IF NOT EXISTS c (x UInt8) ENGINE = Log;\nINSERT INTO c VALUES (7);\n",
    )
    assert await migrate_analytics(store, tmp_path) == ["0001_broken"]
    assert await store.query("SELECT x FROM c") == [{"x": 7}]


# -- what chDB sessions do (the module docstring relies on these) ----------------------------


async def test_chdb_sessions_on_one_path_keep_their_own_database(chdb_dir: Path) -> None:
    one = await ChdbAnalytics.open(chdb_dir, _database())
    two = await ChdbAnalytics.open(chdb_dir, _database())
    try:
        await one.command("CREATE TABLE only_in_one (x UInt8) ENGINE = Log")
        assert await one.query("SELECT currentDatabase() AS db") == [{"db": one.database}]
        assert await two.query("SELECT currentDatabase() AS db") == [{"db": two.database}]
        assert await two.query("EXISTS TABLE only_in_one") == [{"result": 0}]
    finally:
        for store in (one, two):
            await store.command(f"DROP DATABASE {store.database} SYNC")
            await store.close()


async def test_chdb_data_survives_reopening(chdb_dir: Path) -> None:
    database = _database()
    first = await ChdbAnalytics.open(chdb_dir, database)
    await first.command("CREATE TABLE kept (x UInt8) ENGINE = MergeTree ORDER BY x")
    await first.insert("kept", [{"x": 42}])
    await first.close()
    again = await ChdbAnalytics.open(chdb_dir, database)
    try:
        assert await again.query("SELECT x FROM kept") == [{"x": 42}]
    finally:
        await again.command(f"DROP DATABASE {database} SYNC")
        await again.close()


async def test_chdb_refuses_a_second_path_while_one_is_open(chdb_dir: Path, tmp_path: Path) -> None:
    holder = await ChdbAnalytics.open(chdb_dir, _database())
    try:
        with pytest.raises(AnalyticsError, match="already initialized with path"):
            await ChdbAnalytics.open(tmp_path / "other", _database())
        assert await holder.ping() is True  # the failed open left the engine alone
    finally:
        await holder.command(f"DROP DATABASE {holder.database} SYNC")
        await holder.close()


async def test_unreachable_server_fails_to_open_without_leaking_the_url(tmp_path: Path) -> None:
    with pytest.raises(AnalyticsError, match=r"^connect to ClickHouse: ") as caught:
        await open_analytics("http://user:s3cret@127.0.0.1:1/", tmp_path)
    assert "s3cret" not in str(caught.value)


async def test_a_batch_resent_with_its_token_counts_once_in_table_and_views(
    store: Analytics,
) -> None:
    await store.command(
        "CREATE TABLE raw (n UInt64) ENGINE = MergeTree ORDER BY n "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    await store.command(
        "CREATE TABLE total (n UInt64) ENGINE = SummingMergeTree ORDER BY tuple() "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    await store.command(
        "CREATE MATERIALIZED VIEW total_mv TO total AS SELECT count() AS n FROM raw"
    )
    rows = [{"n": 1}, {"n": 2}]
    for _ in range(3):  # a shipper resending after a crash
        await store.insert("raw", rows, dedup_token="segment-1:0:2")
    await store.insert("raw", rows, dedup_token="segment-1:2:4")
    await store.insert("raw", rows)  # no token: always inserted
    assert await store.query("SELECT count() AS c FROM raw") == [{"c": 6}]
    assert await store.query("SELECT sum(n) AS c FROM total") == [{"c": 6}]
