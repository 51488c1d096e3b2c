"""`apex backup` and `apex restore`: both stores to a directory (pg_dump's custom format,
ClickHouse's Native format, a manifest with checksums) and back into empty stores, verified
table by table. docs/production-deployment.md says what RPO and RTO this gives."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from apex_mediation.backup import run
from apex_mediation.backup.manifest import BackupError, Manifest
from apex_mediation.services import open_services
from apex_mediation.settings import get_settings

console = Console()


def _summary(manifest: Manifest) -> str:
    pg_rows = sum(t.rows for t in manifest.postgres.values())
    ch_rows = sum(t.rows for t in manifest.clickhouse.values())
    return (
        f"PostgreSQL {len(manifest.postgres)} tables, {pg_rows:,} rows (revision "
        f"{manifest.postgres_revision}); ClickHouse {len(manifest.clickhouse)} tables, "
        f"{ch_rows:,} rows"
    )


def backup(
    out: Annotated[
        Path | None, typer.Option("--out", help="A new directory (default var/backups/<time>)")
    ] = None,
) -> None:
    """Back up PostgreSQL and ClickHouse into a new directory, with a manifest of checksums."""
    settings = get_settings()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = (out or settings.data_dir / "backups" / stamp).resolve()

    async def go() -> run.Outcome:
        services = await open_services(settings)
        try:
            return await run.backup(services.postgres, services.analytics, directory)
        finally:
            await services.close()

    try:
        done = asyncio.run(go())
    except BackupError as exc:
        console.print(f"[red]backup failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"backed up to {done.directory} in {done.seconds:.1f} s", highlight=False)
    console.print(_summary(done.manifest), highlight=False)


def restore(
    directory: Annotated[Path, typer.Argument(help="A directory `apex backup` wrote")],
) -> None:
    """Restore a backup into empty stores (the configured ones), then check every table."""
    settings = get_settings()

    async def go() -> run.Outcome:
        services = await open_services(settings)
        try:
            return await run.restore(services.postgres, services.analytics, directory.resolve())
        finally:
            await services.close()

    try:
        done = asyncio.run(go())
    except BackupError as exc:
        console.print(f"[red]restore failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"restored {done.directory} in {done.seconds:.1f} s; every table's rows and checksum "
        "match the manifest",
        highlight=False,
    )
    console.print(_summary(done.manifest), highlight=False)
