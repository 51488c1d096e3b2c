"""Benchmark of the reporting endpoints over 30 days of synthetic traffic, embedded mode.

One run, on this machine, everything on 127.0.0.1:
1. Apex as in production (`apex serve`, APEX_ENV=production, a fresh PostgreSQL database, chDB
   embedded under a temporary APEX_DATA_DIR), after `apex migrate`, which applies the ClickHouse
   migrations (raw tables, rollups and their materialized views). A publisher signs up through
   the public API and issues itself an API key with the `reporting` scope. Then the server
   stops: an embedded chDB data directory is open in one process at a time.
2. This process opens the same store (ChdbAnalytics, as the server does; migrate_analytics finds
   nothing pending) and generates N events (--rows, default 20M) for that publisher over the 30
   whole UTC days before today, with ClickHouse itself: `INSERT INTO events SELECT ... FROM
   numbers(k)` in chunks, in time order, then the auctions that match them (65% fill rate, 92%
   show rate). The materialized views fill the rollups as they would in production
   (bench/reports_data.py describes the traffic). Load time, rows/s, rows and parts per table
   and the data size on disk are recorded; background merges are waited for.
3. Still in this process, each report is timed through the store alone (reporting.service, the
   code the endpoint calls, without HTTP), and `EXPLAIN ESTIMATE` gives the rollup rows it reads.
4. `apex serve` starts again on that data; each endpoint is timed over the same 30 days
   (startDate/endDate, whole days, so the overview includes DAU): warm-up, then --requests
   sequential requests per endpoint, interleaved round-robin, with keep-alive; p50/p95/max.
   Endpoints: overview, timeseries (day and hour), countries, adapters, top-apps, and overview
   filtered by appId and country. The server has no result cache (nothing in reporting/ caches,
   and ClickHouse's query cache is off by default), so repeating identical requests measures the
   query each time; only the OS page cache and ClickHouse's mark cache are warm, as for a
   dashboard in use.

Target (2 cores, embedded mode, 20M rows): every report p95 <= 100 ms. `timeseries_p95_ms` is the
worse of day and hour granularity. Prints a table, then one JSON object as the last line.

    .venv/bin/python bench/reports.py [--rows 20000000] [--requests 50] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import psutil
import reports_data

import auction
from apex_mediation.reporting import service
from apex_mediation.reporting import sql as report_sql
from apex_mediation.reporting.params import Filters, Period
from apex_mediation.stores.analytics import Analytics, ChdbAnalytics
from apex_mediation.stores.analytics_migrations import migrate_analytics
from auction import APEX, Processes, prepare_apex, say

DAYS = 30
TARGET_MS = 100.0
OTHER_CPU_WARN_PCT = 20.0  # CPU used by other processes that makes a run unclean
ROLLUPS = [
    "events_hourly",
    "auctions_hourly",
    "devices_daily",
    "events_totals_hourly",
    "auctions_totals_hourly",
    "events_inventory_daily",
    "auctions_inventory_daily",
    "events_country_daily",
    "auctions_country_daily",
    "devices_publisher_daily",
    "devices_app_country_daily",
]
TABLES = ["events", "auctions", *ROLLUPS]

StoreCall = Callable[[Analytics, uuid.UUID, Period, Filters], Awaitable[object]]
SqlOf = Callable[[uuid.UUID, Period, Filters], list[report_sql.Query]]


@dataclass
class Report:
    """One endpoint with its parameters, and the same report through the store."""

    name: str  # `<name>_p95_ms` in the JSON
    path: str
    params: dict[str, str]
    filters: Filters
    call: StoreCall
    queries: SqlOf  # the SQL it runs, for EXPLAIN ESTIMATE
    http_ms: list[float] = field(default_factory=list)
    store_ms: list[float] = field(default_factory=list)
    rows_read: int = 0


def reports(ds: reports_data.Dataset) -> list[Report]:
    app, country = ds.apps[0], "US"  # the biggest app and country
    narrow = Filters(app_id=app, country=country)

    def overview_sql(p: uuid.UUID, period: Period, f: Filters) -> list[report_sql.Query]:
        return [report_sql.overview(p, period, f), report_sql.daily_devices(p, period, f)]

    return [
        # Whole days: the overview runs two queries, the totals and the devices (DAU).
        Report("overview", "/overview", {}, Filters(), service.overview, overview_sql),
        Report(
            "timeseries_day",
            "/timeseries",
            {"granularity": "day"},
            Filters(),
            lambda a, p, period, f: service.timeseries(a, p, period, f, "day"),
            lambda p, period, f: [report_sql.timeseries(p, period, f, "day")],
        ),
        Report(
            "timeseries_hour",
            "/timeseries",
            {"granularity": "hour"},
            Filters(),
            lambda a, p, period, f: service.timeseries(a, p, period, f, "hour"),
            lambda p, period, f: [report_sql.timeseries(p, period, f, "hour")],
        ),
        Report(
            "countries",
            "/countries",
            {},
            Filters(),
            lambda a, p, period, f: service.by_country(a, p, period, f, 10),
            lambda p, period, f: [report_sql.by_country(p, period, f, 10)],
        ),
        Report(
            "adapters",
            "/adapters",
            {},
            Filters(),
            service.by_network,
            lambda p, period, f: [report_sql.by_network(p, period, f)],
        ),
        Report(
            "top_apps",
            "/top-apps",
            {},
            Filters(),
            lambda a, p, period, f: service.top_apps(a, p, period, f, 10),
            lambda p, period, f: [report_sql.top_apps(p, period, f, 10)],
        ),
        Report(
            "overview_app_country",
            "/overview",
            {"appId": str(app), "country": country},
            narrow,
            service.overview,
            overview_sql,
        ),
    ]


# -- statistics ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _r(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


# -- Apex through the public API -------------------------------------------------------------


@dataclass
class Tenant:
    publisher_id: uuid.UUID
    reporting_key: str


def sign_up(base: str) -> Tenant:
    """Signup gives the publisher (its id in `publishers`) and a console session, with which
    the publisher issues itself an API key with the `reporting` scope."""
    with httpx.Client(base_url=base, timeout=10) as http:
        signup = http.post(
            "/api/v1/auth/signup",
            json={
                "email": f"bench-{secrets.token_hex(4)}@example.com",
                "password": auction.PASSWORD,
                "publisherName": "Bench Reports Publisher",
            },
        )
        auction._check(signup, 201)
        # Production cookies are Secure, which httpx does not send over http://: send it by hand.
        session = next(
            c.split(";", 1)[0] for c in signup.headers.get_list("set-cookie") if "session" in c
        )
        me = signup.json()
        key = http.post(
            "/api/v1/api-keys",
            json={"name": "bench-reporting", "scopes": ["reporting"]},
            headers={"Cookie": session, "X-CSRF-Token": me["csrfToken"]},
        )
        auction._check(key, 201)
        return Tenant(uuid.UUID(me["publishers"][0]["id"]), key.json()["key"])


class OtherCpu:
    """CPU used on the machine by anything but the given processes, in % of one core, over a
    `with` block: the measurements are only clean when it stays near 0."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(pid) for pid in pids]
        self.pct = 0.0

    def _sample(self) -> tuple[float, float]:
        ours = 0.0
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                ours += t.user + t.system + t.children_user + t.children_system
        m = psutil.cpu_times()  # guest time is already part of user time on Linux
        unused = ("idle", "iowait", "guest", "guest_nice")
        machine = sum(m) - sum(getattr(m, name, 0.0) for name in unused)
        return ours, machine

    def __enter__(self) -> OtherCpu:
        self._start = (time.monotonic(), *self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        started, ours, machine = self._start
        now_ours, now_machine = self._sample()
        elapsed = max(1e-9, time.monotonic() - started)
        self.pct = max(0.0, 100 * ((now_machine - machine) - (now_ours - ours)) / elapsed)


def wait_quiet(timeout_s: float) -> float:
    """Wait (bounded) until other processes use < OTHER_CPU_WARN_PCT of a core over 2 s."""
    deadline = time.monotonic() + timeout_s
    while True:
        with OtherCpu([os.getpid()]) as other:
            time.sleep(2.0)
        if other.pct < OTHER_CPU_WARN_PCT or time.monotonic() > deadline:
            return other.pct


def wait_idle(pid: int, timeout_s: float, below_pct: float = 5.0) -> float:
    """Wait until the process uses < below_pct of a core over 1 s (startup work, merges)."""
    proc = psutil.Process(pid)
    deadline = time.monotonic() + timeout_s
    proc.cpu_percent(None)
    usage = 100.0
    while time.monotonic() < deadline:
        time.sleep(1.0)
        usage = proc.cpu_percent(None)
        if usage < below_pct:
            break
    return usage


def time_http(
    base: str, key: str, period_params: dict[str, str], items: list[Report], args: Any
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base + "/api/v1/reporting", headers=headers, timeout=60) as http:

        def get(report: Report) -> tuple[float, httpx.Response]:
            started = time.perf_counter()
            response = http.get(report.path, params={**period_params, **report.params})
            elapsed = (time.perf_counter() - started) * 1000
            auction._check(response, 200)
            return elapsed, response

        for _ in range(args.warmup):
            for report in items:
                get(report)
        for i in range(args.requests):
            for report in items:
                report.http_ms.append(get(report)[0])
            if (i + 1) % 10 == 0:
                say(f"  {i + 1} / {args.requests} rounds")


async def time_store(
    store: Analytics, tenant: uuid.UUID, period: Period, items: list[Report], args: Any
) -> None:
    for report in items:
        for query in report.queries(tenant, period, report.filters):
            plan = await store.query("EXPLAIN ESTIMATE " + query.sql, query.params)
            report.rows_read += sum(int(r["rows"]) for r in plan if r["table"] in ROLLUPS)
    for _ in range(args.warmup):
        for report in items:
            await report.call(store, tenant, period, report.filters)
    for _ in range(args.store_requests):
        for report in items:
            started = time.perf_counter()
            await report.call(store, tenant, period, report.filters)
            report.store_ms.append((time.perf_counter() - started) * 1000)


async def wait_merges(store: Analytics, timeout_s: float) -> int:
    """Background merges still running after the load would compete with the measurements."""
    deadline = time.monotonic() + timeout_s
    running = 0
    while time.monotonic() < deadline:
        rows = await store.query(
            "SELECT count() AS n FROM system.merges WHERE database = currentDatabase()"
        )
        running = int(rows[0]["n"])
        if running == 0:
            break
        await asyncio.sleep(1.0)
    return running


# -- the phases ------------------------------------------------------------------------------------


@dataclass
class Loaded:
    stats: reports_data.LoadStats
    tables: dict[str, dict[str, int]]
    merges_left: int
    totals: service.Metrics
    other_cpu_pct: float  # while timing through the store


async def generate(
    clickhouse_dir: Path,
    database: str,
    ds: reports_data.Dataset,
    period: Period,
    items: list[Report],
    args: Any,
) -> Loaded:
    store = await ChdbAnalytics.open(clickhouse_dir, database)
    try:
        pending = await migrate_analytics(store)  # `apex migrate` has applied them: no-op
        if pending:
            say(f"  applied ClickHouse migrations the server had not: {pending}")
        say(f"generating {args.rows:,} events over {DAYS} days ...")
        stats = await reports_data.load(store, ds, args.rows, say, args.chunk_rows)
        say(
            f"  loaded {stats.events:,} events and {stats.auctions:,} auctions in "
            f"{stats.seconds:.1f} s ({stats.rows_per_s / 1e6:.2f} M rows/s); waiting for merges"
        )
        merges_left = await wait_merges(store, 120)
        tables = await reports_data.table_stats(store, TABLES)
        totals = (await service.overview(store, ds.publisher_id, period, Filters())).metrics
        if (busy := wait_quiet(60)) > OTHER_CPU_WARN_PCT:
            say(f"warning: the machine is busy ({busy:.0f}% of a core used by others)")
        say(f"timing the reports through the store ({args.store_requests} each) ...")
        with OtherCpu([os.getpid()]) as other:
            await time_store(store, ds.publisher_id, period, items, args)
        return Loaded(stats, tables, merges_left, totals, other.pct)
    finally:
        await store.close()


def _run(args: argparse.Namespace, work: Path, procs: Processes, database_url: str | None) -> int:
    started = time.monotonic()
    port = auction.free_port()
    data_dir = work / "data"
    env = {
        **os.environ,
        "APEX_ENV": "production",
        "APEX_SECRET_KEY": secrets.token_urlsafe(48),
        "APEX_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url or "",
        "CLICKHOUSE_URL": "",
        "REDIS_URL": "",
        "APEX_HOST": "127.0.0.1",
        "APEX_PORT": str(port),
        "APEX_LOG_LEVEL": "WARNING",
    }
    database = env.get("APEX_CLICKHOUSE_DATABASE") or "apex"
    prepare_apex(env, work, database_url)

    base = f"http://127.0.0.1:{port}"

    def start_apex() -> subprocess.Popen[str]:
        proc = procs.start("apex", [APEX, "serve", "--port", str(port)], env=env)
        try:
            auction.wait_http(f"{base}/health", 120, proc)
        except Exception:
            say(procs.log_tail("apex"))
            raise
        return proc

    start_apex()
    tenant = sign_up(base)
    procs.stop("apex")
    say(f"publisher {tenant.publisher_id} set up in {time.monotonic() - started:.1f} s")

    today = datetime.combine(datetime.now(UTC).date(), clock(tzinfo=UTC))
    first_day = today - timedelta(days=DAYS)
    period = Period(first_day, today)  # what startDate/endDate below mean
    period_params = {
        "startDate": first_day.date().isoformat(),
        "endDate": (today - timedelta(days=1)).date().isoformat(),  # inclusive
    }
    ds = reports_data.Dataset(tenant.publisher_id, first_day, DAYS)
    items = reports(ds)
    loaded = asyncio.run(generate(data_dir / "clickhouse", database, ds, period, items, args))
    disk_bytes = sum(f.stat().st_size for f in (data_dir / "clickhouse").rglob("*") if f.is_file())

    say("starting apex serve on the data ...")
    apex = start_apex()
    idle = wait_idle(apex.pid, 60)
    check = httpx.get(
        f"{base}/api/v1/reporting/overview",
        params=period_params,
        headers={"Authorization": f"Bearer {tenant.reporting_key}"},
        timeout=60,
    )
    auction._check(check, 200)
    if check.json()["impressions"] != loaded.totals.impressions:
        raise RuntimeError(
            f"the server sees {check.json()['impressions']} impressions, "
            f"the store {loaded.totals.impressions}"
        )
    if (busy := wait_quiet(60)) > OTHER_CPU_WARN_PCT:
        say(f"warning: the machine is busy ({busy:.0f}% of a core used by others)")
    say(f"timing the endpoints over HTTP ({args.requests} each, round-robin) ...")
    with OtherCpu([os.getpid(), apex.pid]) as other:
        time_http(base, tenant.reporting_key, period_params, items, args)
    procs.stop("apex")

    summary = summarize(args, loaded, items, disk_bytes, idle, other.pct)
    summary["dau"] = check.json()["dau"]
    print_table(loaded, items, summary)
    say(f"total {time.monotonic() - started:.0f} s")
    print(json.dumps(summary), flush=True)
    return 0


# -- report ---------------------------------------------------------------------------------------


def summarize(
    args: argparse.Namespace,
    loaded: Loaded,
    items: list[Report],
    disk_bytes: int,
    idle: float,
    other_cpu_pct: float,
) -> dict[str, Any]:
    by = {r.name: r for r in items}
    p95 = {name: percentile(r.http_ms, 95) for name, r in by.items()}
    t = loaded.tables
    raw_rows = t["events"]["rows"] + t["auctions"]["rows"]
    rollup_rows = t["events_hourly"]["rows"] + t["auctions_hourly"]["rows"]
    m = loaded.totals
    summary: dict[str, Any] = {
        "rows": loaded.stats.events,
        "overview_p95_ms": _r(p95["overview"]),
        "timeseries_p95_ms": _r(max(p95["timeseries_day"], p95["timeseries_hour"])),
        "countries_p95_ms": _r(p95["countries"]),
        "adapters_p95_ms": _r(p95["adapters"]),
        "top_apps_p95_ms": _r(p95["top_apps"]),
        "timeseries_day_p95_ms": _r(p95["timeseries_day"]),
        "timeseries_hour_p95_ms": _r(p95["timeseries_hour"]),
        "overview_app_country_p95_ms": _r(p95["overview_app_country"]),
        "max_p95_ms": _r(max(p95.values())),
        "target_met": max(p95.values()) <= TARGET_MS,
        **{f"{n}_p50_ms": _r(percentile(r.http_ms, 50)) for n, r in by.items()},
        **{f"{n}_store_p95_ms": _r(percentile(r.store_ms, 95)) for n, r in by.items()},
        **{f"{n}_rollup_rows_read": r.rows_read for n, r in by.items()},
        "auction_rows": loaded.stats.auctions,
        "load_s": round(loaded.stats.seconds, 1),
        "rows_per_s": round(loaded.stats.rows_per_s),
        "events_per_s": round(
            sum(n for table, n, _ in loaded.stats.chunks if table == "events")
            / max(1e-9, sum(s for table, _, s in loaded.stats.chunks if table == "events"))
        ),
        "disk_mb": round(disk_bytes / 1e6, 1),
        **{f"{name}_rows": v["rows"] for name, v in t.items()},
        **{f"{name}_parts": v["parts"] for name, v in t.items()},
        **{f"{name}_mb": round(v["bytes"] / 1e6, 1) for name, v in t.items()},
        "rollup_compression": round(raw_rows / rollup_rows, 2) if rollup_rows else None,
        "impressions": m.impressions,
        "fill_rate": m.fill_rate,
        "show_rate": m.show_rate,
        "merges_left": loaded.merges_left,
        "server_idle_cpu_pct": round(idle, 1),
        "other_cpu_pct": round(other_cpu_pct, 1),  # while timing over HTTP
        "other_cpu_pct_store": round(loaded.other_cpu_pct, 1),
        "requests": args.requests,
        "store_requests": args.store_requests,
        "days": DAYS,
        "cores": os.cpu_count(),
    }
    return summary


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def print_table(loaded: Loaded, items: list[Report], summary: dict[str, Any]) -> None:
    s = loaded.stats
    print()
    print(
        f"load: {s.events:,} events + {s.auctions:,} auctions in {s.seconds:.1f} s "
        f"({s.rows_per_s / 1e6:.2f} M rows/s); data on disk {summary['disk_mb']:,.0f} MB"
    )
    print(
        f"30 days: {summary['impressions']:,} impressions, fill rate {summary['fill_rate']:.1%}, "
        f"show rate {summary['show_rate']:.1%}, DAU {summary['dau']:,.0f}; "
        f"raw rows / rollup rows {summary['rollup_compression']}"
    )
    head = f"{'table':<16} {'rows':>12} {'parts':>6} {'MB':>8}"
    print(head)
    print("-" * len(head))
    for name in TABLES:
        v = loaded.tables.get(name, {"rows": 0, "parts": 0, "bytes": 0})
        print(f"{name:<16} {v['rows']:>12,} {v['parts']:>6} {v['bytes'] / 1e6:>8,.1f}")
    print()
    head = (
        f"{'report (30 days)':<22} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'store p50':>9} {'store p95':>9} {'rollup rows read':>16}   target"
    )
    print(head)
    print("-" * len(head))
    for r in items:
        p95 = percentile(r.http_ms, 95)
        print(
            f"{r.name:<22} {_fmt(percentile(r.http_ms, 50)):>7} {_fmt(p95):>7} "
            f"{_fmt(max(r.http_ms, default=math.nan)):>7} "
            f"{_fmt(percentile(r.store_ms, 50)):>9} {_fmt(percentile(r.store_ms, 95)):>9} "
            f"{r.rows_read:>16,}   {'ok' if p95 <= TARGET_MS else 'MISSED'}"
        )
    print(
        f"\np50/p95/max: over HTTP ({summary['requests']} sequential requests each, keep-alive);"
        f"\nstore: the same report through reporting.service on the store, no HTTP "
        f"({summary['store_requests']} each);"
        "\nrollup rows read: EXPLAIN ESTIMATE of the report's queries (overview: totals + DAU)."
        f"\ntarget: every report p95 <= {TARGET_MS:.0f} ms at 20M rows on 2 cores."
    )
    other = max(summary["other_cpu_pct"], summary["other_cpu_pct_store"])
    if other > OTHER_CPU_WARN_PCT:
        print(
            f"\nWARNING: other processes used {other:.0f}% of a core while timing: "
            "these figures are not from a quiet machine."
        )
    print()


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Apex reporting endpoints over 30 days")
    parser.add_argument("--rows", type=int, default=20_000_000, help="events to generate")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per endpoint")
    parser.add_argument(
        "--store-requests", type=int, default=10, help="timed store calls per report"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per endpoint")
    parser.add_argument("--chunk-rows", type=int, default=reports_data.CHUNK_ROWS)
    parser.add_argument("--quick", action="store_true", help="1M rows, 10 requests: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = min(args.rows, 1_000_000)
        args.requests = min(args.requests, 10)
        args.store_requests = min(args.store_requests, 5)
        args.warmup = min(args.warmup, 1)
    if args.rows < 1 or args.requests < 1 or args.store_requests < 1 or args.chunk_rows < 1:
        parser.error("--rows, --requests, --store-requests and --chunk-rows must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, auction._interrupt)
    work = Path(tempfile.mkdtemp(prefix="apex-bench-reports-"))
    procs = Processes(work)
    try:
        with auction.bench_database() as database_url:
            return _run(args, work, procs, database_url)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
