"""`apex backup` and `apex restore`, end to end.

Backup: pg_dump, then each ClickHouse table, then the manifest (files' SHA-256, each table's
rows and checksum). The two stores are read one after the other, not at one instant: events
that arrive in between are in ClickHouse's copy only — run it when traffic is low, or accept
that the newest seconds of events may be in one store's copy and not the other's.

Restore: only into empty stores, with the release that made the backup; the files are checked
against the manifest first, and every table's rows and checksum after."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import text

from apex_mediation.backup import analytics, postgres
from apex_mediation.backup.manifest import (
    BackupError,
    Manifest,
    differences,
    sha256,
    verify_files,
)
from apex_mediation.stores.analytics import Analytics
from apex_mediation.stores.postgres import Postgres


@dataclass(frozen=True)
class Outcome:
    directory: Path
    manifest: Manifest
    seconds: float


def app_version() -> str:
    return version("apex-mediation")


async def _revision(store: Postgres) -> str | None:
    async with store.engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('public.alembic_version')"))
        if exists is None:
            return None
        revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return None if revision is None else str(revision)


def _new_directory(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: choose a new directory for the backup")
    directory.mkdir(parents=True, exist_ok=True)


async def backup(store: Postgres, store_ch: Analytics, directory: Path) -> Outcome:
    started = time.monotonic()
    _new_directory(directory)
    applied = f"SELECT version FROM `{store_ch.database}`.{analytics.MIGRATIONS_TABLE}"  # noqa: S608
    migrations = await store_ch.query(applied + " ORDER BY version")
    manifest = Manifest(
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        app_version=app_version(),
        postgres_revision=await _revision(store),
        clickhouse_migrations=[str(r["version"]) for r in migrations],
    )
    files = [await postgres.dump(store, directory), *await analytics.export(store_ch, directory)]
    manifest.postgres = await postgres.table_sums(store)
    manifest.clickhouse = await analytics.table_sums(store_ch)
    manifest.files = {str(f.relative_to(directory)): sha256(f) for f in files}
    manifest.write(directory)
    return Outcome(directory, manifest, time.monotonic() - started)


async def restore(store: Postgres, store_ch: Analytics, directory: Path) -> Outcome:
    started = time.monotonic()
    manifest = Manifest.read(directory)
    if manifest.app_version != app_version():
        raise BackupError(
            f"the backup was made by Apex {manifest.app_version}; restore it with that release "
            f"(this is {app_version()}), then upgrade"
        )
    verify_files(directory, manifest)
    if not await postgres.is_empty(store):
        raise BackupError("the PostgreSQL database is not empty: restore into a new database")
    if not await analytics.is_empty(store_ch):
        raise BackupError(
            f"the ClickHouse database {store_ch.database} holds data: restore into an empty one"
        )
    await postgres.restore(store, directory)
    await analytics.restore(store_ch, directory)
    problems = differences("postgres", manifest.postgres, await postgres.table_sums(store))
    problems += differences("clickhouse", manifest.clickhouse, await analytics.table_sums(store_ch))
    if problems:
        raise BackupError("restored, but not as backed up:\n" + "\n".join(problems))
    return Outcome(directory, manifest, time.monotonic() - started)
