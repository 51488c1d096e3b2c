"""`make bench-backup`: how long `apex backup` and `apex restore` take on a sizeable install, side
by side with the baseline of a bare pg_dump/pg_restore of the same PostgreSQL database in the
same run (the price of the ClickHouse copy and the checksums is the difference).

Data: `--audit-rows` audit-log rows and `--events` events (one per second over the last days,
rolled up by the materialized views), on the local PostgreSQL (a new database, dropped at the
end) and chDB in a temporary directory. Everything stays on this machine."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

import psycopg

from apex_mediation.backup import postgres as pg_backup
from apex_mediation.backup import run
from apex_mediation.db import migrate
from apex_mediation.stores.analytics import open_analytics
from apex_mediation.stores.analytics_migrations import migrate_analytics
from apex_mediation.stores.postgres import open_postgres

ADMIN = os.environ.get("APEX_BENCH_PG", "postgresql://root@127.0.0.1:5432/postgres")


def _database(prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _uuid(expression: str) -> str:
    """A UUID from a small number: a few publishers, apps and placements, as in real traffic."""
    return f"toUUID(concat('00000000-0000-4000-8000-', leftPad(toString({expression}), 12, '0')))"


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def main(audit_rows: int, events: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="apex-bench-backup-"))
    source_url, target_url, bare_url = (
        _database("bb_src"),
        _database("bb_dst"),
        _database("bb_bare"),
    )
    try:
        await asyncio.to_thread(migrate.upgrade, source_url)
        with psycopg.connect(source_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO audit_logs (actor_type, action, object_type, object_id, details) "
                "SELECT 'system', 'bench.loaded', 'app', g::text, jsonb_build_object('n', g) "
                "FROM generate_series(1, %s) g",
                (audit_rows,),
            )
        source = await open_postgres(source_url, work, pool_size=2)
        target = await open_postgres(target_url, work, pool_size=2)
        store = await open_analytics(None, work / "chdb", "bench_src")
        await migrate_analytics(store)
        await store.command(
            "INSERT INTO events (event_id, event, received_at, auction_id, bid_id, publisher_id, "
            "app_id, placement_id, network, format, platform, country, cpm_micros, currency, "
            "test, ivt, device_key) SELECT toString(number), 'impression', "
            "now64(3) - toIntervalSecond(number), toString(number % 50000), 'b', "
            f"{_uuid('number % 5')}, {_uuid('number % 20')}, {_uuid('number % 60')}, "
            "'admob', 'banner', 'android', "
            f"'US', 1000000 + number % 1000, 'USD', 0, 0, toString(number % 9973) "
            f"FROM numbers({events})"
        )

        started = time.monotonic()
        tools = pg_backup.tools_dir(await pg_backup.server_major(source))
        bare = work / "bare.dump"
        await pg_backup._run(tools / "pg_dump", "--format=custom", f"--file={bare}", source_url)
        await pg_backup._run(tools / "pg_restore", "--no-owner", f"--dbname={bare_url}", str(bare))
        baseline_s = time.monotonic() - started

        backed = await run.backup(source, store, work / "backup")
        await store.command("DROP DATABASE bench_src")
        await store.command("CREATE DATABASE bench_src")
        restored = await run.restore(target, store, work / "backup")
        pg_rows = sum(t.rows for t in backed.manifest.postgres.values())
        ch_rows = sum(t.rows for t in backed.manifest.clickhouse.values())
        print(f"data: PostgreSQL {pg_rows:,} rows, ClickHouse {ch_rows:,} rows")
        print(f"baseline pg_dump + pg_restore (PostgreSQL only): {baseline_s:6.1f} s")
        print(f"apex backup  (both stores, checksums):          {backed.seconds:6.1f} s, "
              f"{_size(work / 'backup') / 1e6:,.1f} MB")  # fmt: skip
        print(f"apex restore (both stores, verified):           {restored.seconds:6.1f} s")
        await store.close()
        await source.close()
        await target.close()
    finally:
        for url in (source_url, target_url, bare_url):
            _drop(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--audit-rows", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args()
    asyncio.run(main(args.audit_rows, args.events))
