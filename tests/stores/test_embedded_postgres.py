"""The embedded server: first start, reuse, pg_stat_statements, stale pid recovery, stop."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from apex_mediation.stores.embedded_postgres import EmbeddedPostgres

pytestmark = pytest.mark.embedded


def _query(url: str, sql: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def test_start_reuse_and_stop(embedded_pg_dir: Path) -> None:
    server = EmbeddedPostgres(embedded_pg_dir)
    first = server.start()
    assert server.started_here
    assert _query(first.url(), "SHOW shared_preload_libraries") == "pg_stat_statements"
    with psycopg.connect(first.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        assert conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    # A second handle on a running server reuses it and does not own it.
    second = EmbeddedPostgres(embedded_pg_dir)
    assert second.start() == first
    assert not second.started_here
    server.stop()
    assert server.running() is None
    # Restart: the data survived.
    again = EmbeddedPostgres(embedded_pg_dir).start()
    assert _query(again.url(), "SELECT v FROM kept") == 42


def test_stale_pid_file_after_a_crash_is_recovered(embedded_pg_dir: Path) -> None:
    server = EmbeddedPostgres(embedded_pg_dir)
    server.start()
    server.stop()
    # What a crash leaves: a postmaster.pid naming a live process that is not our server
    # (here: this test process), which plain pg_ctl would refuse to start over.
    pid_file = embedded_pg_dir / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{embedded_pg_dir}\n0\n5432\n/tmp\n127.0.0.1\n0 0\nready\n")
    assert server.running() is None
    running = server.start()
    assert running.pid != os.getpid()
    assert _query(running.url(), "SELECT 1") == 1
    server.stop()


async def test_query_statistics_are_enabled_on_the_embedded_server(embedded_pg_dir: Path) -> None:
    from apex_mediation.stores.postgres import open_postgres
    from apex_mediation.stores.query_stats import detect

    postgres = await open_postgres(None, embedded_pg_dir, pool_size=1)
    try:
        found = await detect(postgres)
        assert (found.available, found.preloaded, found.installed, found.usable) == (
            True, True, True, True,
        )  # fmt: skip
        assert found.advice is None and found.summary == "recording query statistics"
    finally:
        await postgres.close()
