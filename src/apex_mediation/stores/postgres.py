"""PostgreSQL: an external server from `DATABASE_URL`, or the embedded one in ./var/postgres."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from apex_mediation.stores import postgres_metrics
from apex_mediation.stores.embedded_postgres import EmbeddedPostgres, wait_until_accepting

EMBEDDED_DATABASE = "apex"


def async_url(url: str) -> str:
    """SQLAlchemy URL for asyncpg, whatever scheme the operator wrote."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def plain_url(url: str) -> str:
    """libpq-style URL (for psql, pg_dump and asyncpg.connect)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Postgres:
    """The application's handle on PostgreSQL: an engine, a session factory, and who owns the
    embedded server (stopped on close only if this handle started it)."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    embedded: EmbeddedPostgres | None = field(default=None)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: rolled back unless the caller commits."""
        async with self.sessions() as session:
            yield session

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            return bool((await conn.execute(text("SELECT 1"))).scalar_one() == 1)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.embedded is not None and self.embedded.started_here:
            await asyncio.to_thread(self.embedded.stop)


def start_embedded(data_dir: Path, port: int = 0) -> tuple[EmbeddedPostgres, str]:
    """Start (or reuse) the embedded server and make sure the application database exists."""
    server = EmbeddedPostgres(data_dir, port=port)
    running = server.start()
    wait_until_accepting(running)
    _ensure_database(running.url("postgres"), EMBEDDED_DATABASE)
    return server, running.url(EMBEDDED_DATABASE)


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def database_url(
    external: str | None, data_dir: Path, port: int = 0
) -> tuple[str, EmbeddedPostgres | None]:
    if external:
        return plain_url(external), None
    server, url = start_embedded(data_dir, port)
    return url, server


async def open_postgres(
    external_url: str | None, data_dir: Path, *, pool_size: int = 10, embedded_port: int = 0
) -> Postgres:
    url, server = await asyncio.to_thread(database_url, external_url, data_dir, embedded_port)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Bound values (emails, tokens, whatever a client typed) stay out of SQL logs and out
        # of error messages, which end up in logs and tracebacks.
        hide_parameters=True,
    )
    postgres_metrics.watch(engine)
    return Postgres(
        url=url,
        engine=engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        embedded=server,
    )
