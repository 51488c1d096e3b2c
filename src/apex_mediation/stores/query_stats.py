"""pg_stat_statements: detected on any server, enabled where it can be, explained where not.

The embedded server preloads it (stores/embedded_postgres.py). On an external database it may
be missing at three levels, each with its own remedy: not available (the contrib package or the
managed service's option), not preloaded (`shared_preload_libraries` and a restart — a
parameter group on RDS, a database flag on Cloud SQL), or not created in this database
(`CREATE EXTENSION`, which Apex does itself when it is allowed to). The operator sees the
status and the remedy on the system health page; the self-evolving system reads slow
statements from it when it is usable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from apex_mediation.stores.postgres import Postgres

EXTENSION = "pg_stat_statements"


@dataclass(frozen=True)
class QueryStats:
    available: bool  # the server has the extension's files
    preloaded: bool  # in shared_preload_libraries (needed before it records anything)
    installed: bool  # CREATE EXTENSION done in this database
    usable: bool  # the view answers
    advice: str | None  # what the operator should do, when not usable

    @property
    def summary(self) -> str:
        return "recording query statistics" if self.usable else (self.advice or "unavailable")


def _advice(available: bool, preloaded: bool, installed: bool, error: str | None) -> str | None:
    if not available:
        return (
            f"{EXTENSION} is not available on this PostgreSQL server: install the contrib "
            "package (e.g. postgresql-contrib) or enable the extension on your managed service"
        )
    if not preloaded:
        return (
            f"add {EXTENSION} to shared_preload_libraries and restart PostgreSQL (on Amazon RDS: "
            "the DB parameter group; on Cloud SQL: the database flag; on Azure: the server "
            "parameter), then Apex creates the extension at its next start"
        )
    if not installed:
        return (
            f"run `CREATE EXTENSION {EXTENSION};` in this database as a user allowed to "
            f"(Apex's own user could not: {error or 'permission denied'})"
        )
    return None


async def detect(postgres: Postgres, *, create: bool = True) -> QueryStats:
    """The extension's status; with `create`, CREATE EXTENSION when it is preloaded but not yet
    created (harmless when it exists)."""
    error: str | None = None
    async with postgres.engine.connect() as conn:
        preloaded_libs = str(await conn.scalar(text("SHOW shared_preload_libraries")) or "")
        preloaded = EXTENSION in {part.strip() for part in preloaded_libs.split(",")}
        available = bool(
            await conn.scalar(
                text("SELECT count(*) FROM pg_available_extensions WHERE name = :name"),
                {"name": EXTENSION},
            )
        )
        installed = bool(
            await conn.scalar(
                text("SELECT count(*) FROM pg_extension WHERE extname = :name"), {"name": EXTENSION}
            )
        )
        if create and available and preloaded and not installed:
            try:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                await conn.commit()
                installed = True
            except DBAPIError as exc:
                await conn.rollback()
                error = str(exc.orig).splitlines()[0][:200]
        usable = False
        if installed and preloaded:
            try:
                await conn.scalar(text("SELECT count(*) FROM pg_stat_statements"))
                usable = True
            except DBAPIError as exc:
                await conn.rollback()
                error = str(exc.orig).splitlines()[0][:200]
    return QueryStats(
        available, preloaded, installed, usable, _advice(available, preloaded, installed, error)
    )
