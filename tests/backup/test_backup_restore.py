"""Backups end to end: load data into both stores (publishers, apps and audit rows in
PostgreSQL; events in ClickHouse, which its materialized views roll up), back up, wipe, restore
into the empty stores: the same rows and checksums, table by table, and rollups not counted
twice. A damaged file, a store that is not empty and a backup from another release are refused
with what is wrong."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from apex_mediation.accounts import audit
from apex_mediation.accounts.identity import Actor
from apex_mediation.backup import analytics as ch_backup
from apex_mediation.backup import postgres as pg_backup
from apex_mediation.backup import run
from apex_mediation.backup.manifest import BackupError
from apex_mediation.db import migrate
from apex_mediation.db.models import App, Publisher
from apex_mediation.stores.analytics import Analytics, open_analytics
from apex_mediation.stores.analytics_migrations import migrate_analytics
from apex_mediation.stores.postgres import Postgres, open_postgres
from tests.conftest import create_database, drop_database
from tests.reporting.data import event

HOUR = dt.datetime(2031, 3, 4, 10, tzinfo=dt.UTC)


@dataclass
class Stores:
    postgres: Postgres
    analytics: Analytics


@pytest.fixture
async def source(pg_admin_url: str, chdb_dir: Path, tmp_path: Path) -> AsyncIterator[Stores]:
    url = create_database(pg_admin_url, "apex_backup_source")
    await asyncio.to_thread(migrate.upgrade, url)
    postgres = await open_postgres(url, tmp_path, pool_size=2)
    store = await open_analytics(None, chdb_dir, f"apex_backup_{secrets.token_hex(4)}")
    await migrate_analytics(store)
    try:
        yield Stores(postgres, store)
    finally:
        await store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        await store.close()
        await postgres.close()
        drop_database(pg_admin_url, url)


@pytest.fixture
async def empty_postgres(pg_admin_url: str, tmp_path: Path) -> AsyncIterator[Postgres]:
    url = create_database(pg_admin_url, "apex_backup_target")
    postgres = await open_postgres(url, tmp_path, pool_size=2)
    yield postgres
    await postgres.close()
    drop_database(pg_admin_url, url)


async def _load(stores: Stores) -> uuid.UUID:
    publisher = Publisher(id=uuid.uuid4(), name="Backed Up Games")
    app = App(
        id=uuid.uuid4(), publisher_id=publisher.id, name="Puzzle", platform="android",
        bundle_id="com.example.puzzle",
    )  # fmt: skip
    async with stores.postgres.session() as session:
        session.add(publisher)
        await session.flush()
        session.add(app)
        for n in range(5):
            await audit.record(session, Actor.system(publisher.id), "test.loaded", "app", n)
        await session.commit()
    rows = [
        event(publisher.id, at=HOUR + dt.timedelta(minutes=n), app_id=app.id,
              placement_id=uuid.uuid4(), cpm_micros=1_000_000 + n, device_key=f"d{n % 7}")
        for n in range(60)
    ]  # fmt: skip
    await stores.analytics.insert("events", rows)
    await stores.analytics.insert("events", rows[:10])  # replayed: the same event ids
    return publisher.id


async def _impressions(store: Analytics) -> int:
    [row] = await store.query(f"SELECT sum(events) AS n FROM `{store.database}`.events_hourly")
    return int(row["n"])


async def test_back_up_wipe_restore_and_verify(
    source: Stores, empty_postgres: Postgres, tmp_path: Path
) -> None:
    await _load(source)
    rolled_up = await _impressions(source.analytics)
    assert rolled_up >= 60
    done = await run.backup(source.postgres, source.analytics, tmp_path / "backup")
    manifest = done.manifest
    assert manifest.postgres["public.publishers"].rows == 1
    assert manifest.postgres["public.audit_logs"].rows == 5
    assert manifest.clickhouse["events"].rows == 60  # the replay merged away (FINAL)
    assert manifest.clickhouse["events_hourly"].rows >= 1
    assert manifest.postgres_revision and manifest.clickhouse_migrations
    assert set(manifest.files) >= {"postgres.dump", "clickhouse/events.native"}
    assert json.loads((tmp_path / "backup" / "manifest.json").read_text())["format"] == 1

    # Wipe ClickHouse (the same database, emptied) and restore into it and a new PostgreSQL.
    store = source.analytics
    await store.command(f"DROP DATABASE `{store.database}`")
    await store.command(f"CREATE DATABASE `{store.database}`")
    restored = await run.restore(empty_postgres, store, tmp_path / "backup")
    assert restored.manifest == manifest
    assert await pg_backup.table_sums(empty_postgres) == manifest.postgres
    assert await ch_backup.table_sums(store) == manifest.clickhouse
    assert await _impressions(store) == rolled_up  # rollups restored once, not recomputed too
    async with empty_postgres.engine.connect() as conn:
        names = await conn.scalar(text("SELECT string_agg(name, ',') FROM publishers"))
    assert names == "Backed Up Games"
    # The views are back: new events roll up again.
    await store.insert("events", [event(uuid.uuid4(), at=HOUR, app_id=uuid.uuid4(),
                                        placement_id=uuid.uuid4())])  # fmt: skip
    assert await _impressions(store) == rolled_up + 1


async def test_a_damaged_or_foreign_backup_and_a_full_store_are_refused(
    source: Stores, empty_postgres: Postgres, tmp_path: Path
) -> None:
    await _load(source)
    directory = tmp_path / "backup"
    await run.backup(source.postgres, source.analytics, directory)
    with pytest.raises(BackupError, match="not empty: choose a new directory"):
        await run.backup(source.postgres, source.analytics, directory)
    with pytest.raises(BackupError, match="PostgreSQL database is not empty"):
        await run.restore(source.postgres, source.analytics, directory)
    with pytest.raises(BackupError, match="holds data"):
        await run.restore(empty_postgres, source.analytics, directory)

    dump = directory / "clickhouse" / "events.native"
    original = dump.read_bytes()
    dump.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(BackupError, match=r"events\.native does not match its checksum"):
        await run.restore(empty_postgres, source.analytics, directory)
    dump.write_bytes(original)

    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps({**manifest, "app_version": "0.0.1"}))
    with pytest.raises(BackupError, match=r"made by Apex 0\.0\.1; restore it with that release"):
        await run.restore(empty_postgres, source.analytics, directory)
    with pytest.raises(BackupError, match=r"manifest\.json is missing"):
        await run.restore(empty_postgres, source.analytics, tmp_path)
