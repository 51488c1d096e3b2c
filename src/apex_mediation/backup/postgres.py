"""PostgreSQL's half: pg_dump in its custom format, pg_restore into an empty database, and a
checksum of every table's rows (order-independent: the sum of a hash of each row's text).

pg_dump must be at least as new as the server and pg_restore should match it: the tools are
taken from the server's major version when installed (Debian's /usr/lib/postgresql/<major>),
else from the embedded server's wheel (PostgreSQL 18), which dumps older servers too."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from apex_mediation.backup.manifest import BackupError, TableSum
from apex_mediation.stores.embedded_postgres import _bin_dir
from apex_mediation.stores.postgres import Postgres, plain_url

DUMP = "postgres.dump"
_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname"
)
# The schemas Apex writes: its own and the job queue's.
SCHEMAS = ("public", "procrastinate")


def _major(tool: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a PostgreSQL tool's own --version
            [str(tool), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def tools_dir(server_major: int) -> Path:
    """The directory of the pg_dump/pg_restore to use against a server of this major version."""
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin"), _bin_dir()]
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    usable: list[tuple[int, Path]] = []
    for directory in candidates:
        major = _major(directory / "pg_dump")
        if major is not None and major >= server_major:
            usable.append((major, directory))
    if not usable:
        raise BackupError(f"no pg_dump for PostgreSQL {server_major} or newer is installed")
    return min(usable, key=lambda found: found[0])[1]


async def server_major(postgres: Postgres) -> int:
    async with postgres.engine.connect() as conn:
        return int(str(await conn.scalar(text("SHOW server_version_num")))) // 10_000


async def _tables(conn: AsyncConnection) -> list[str]:
    names = []
    for schema in SCHEMAS:
        rows = await conn.execute(text(_TABLES), {"schema": schema})
        names += [f"{schema}.{name}" for (name,) in rows.all()]
    return names


async def table_sums(postgres: Postgres) -> dict[str, TableSum]:
    sums = {}
    async with postgres.engine.connect() as conn:
        await conn.execute(text("SET TIME ZONE 'UTC'"))  # rows as text, the same every time
        for table in await _tables(conn):
            schema, name = table.split(".")
            quoted = f'"{schema}"."{name}"'
            row_hash = "('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint"
            summed = f"SELECT count(*), coalesce(sum({row_hash}), 0)::text FROM {quoted} t"  # noqa: S608
            # Driver SQL: the table comes from the catalog, so there is no schema to check it
            # against (tests/db/test_queries_match_schema.py checks the code's own statements).
            result: Any = (await conn.exec_driver_sql(summed)).one()
            sums[table] = TableSum(rows=int(result[0]), checksum=str(result[1]))
    return sums


async def is_empty(postgres: Postgres) -> bool:
    """True when no table of the schemas Apex writes exists (a new or wiped database)."""
    async with postgres.engine.connect() as conn:
        return not await _tables(conn)


async def _run(program: Path, *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(program), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise BackupError(f"{program.name} failed: {err.decode(errors='replace').strip()[:2000]}")


async def dump(postgres: Postgres, directory: Path) -> Path:
    tools = tools_dir(await server_major(postgres))
    target = directory / DUMP
    await _run(
        tools / "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
        f"--file={target}", plain_url(postgres.url),
    )  # fmt: skip
    return target


async def restore(postgres: Postgres, directory: Path) -> None:
    tools = tools_dir(await server_major(postgres))
    await _run(
        tools / "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
        "--single-transaction", f"--dbname={plain_url(postgres.url)}", str(directory / DUMP),
    )  # fmt: skip
