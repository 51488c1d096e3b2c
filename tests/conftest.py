"""Shared fixtures: real stores only.

PostgreSQL: the server at 127.0.0.1:5432 when it answers, in a database made for this run and
dropped after it; otherwise the embedded server in a temporary directory. ClickHouse: chDB in a
temporary directory (one per process, as chDB requires). Cache: in-process here; the cache's own
suite runs against Redis too.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from apex_mediation.app import create_app
from apex_mediation.db import migrate
from apex_mediation.sdk.config_signing import create_key
from apex_mediation.services import Services
from apex_mediation.settings import Settings
from apex_mediation.stores.analytics import Analytics, open_analytics
from apex_mediation.stores.analytics_migrations import migrate_analytics
from apex_mediation.stores.cache import MemoryCache
from apex_mediation.stores.embedded_postgres import EmbeddedPostgres
from apex_mediation.stores.postgres import open_postgres
from tests.helpers import Tenant

SERVER_ADMIN_URL = os.environ.get(
    "APEX_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret-" + "x1y2z3w4" * 6


def _server_answers(url: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            pass
        with psycopg.connect(url, connect_timeout=2):
            return True
    except (OSError, psycopg.Error):
        return False


def create_database(admin_url: str, prefix: str = "apex_test") -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An admin URL on a PostgreSQL server: the local one, else an embedded one."""
    if _server_answers(SERVER_ADMIN_URL):
        yield SERVER_ADMIN_URL
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    running = server.start()
    try:
        yield running.url("postgres")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database of this test run's own."""
    url = create_database(pg_admin_url)
    migrate.upgrade(url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[str]:
    """An empty database for tests that run migrations themselves."""
    url = create_database(pg_admin_url, "apex_fresh")
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings(data_dir: Path, pg_url: str) -> Settings:
    return Settings(
        APEX_ENV="test",
        APEX_DATA_DIR=data_dir,
        APEX_SECRET_KEY=TEST_SECRET,
        DATABASE_URL=pg_url,
        APEX_LOG_JSON=False,
        APEX_LOG_LEVEL="WARNING",
        APEX_BACKGROUND_JOBS=False,
    )


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB data directory of the test session: chDB binds a process to the first path
    it opens, so every test that opens chDB uses this one, isolated by database name."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
async def analytics(chdb_dir: Path) -> AsyncIterator[Analytics]:
    store = await open_analytics(None, chdb_dir, "apex_test")
    await migrate_analytics(store)
    yield store
    await store.close()


@pytest.fixture(scope="session")
async def services(
    settings: Settings, pg_url: str, analytics: Analytics
) -> AsyncIterator[Services]:
    postgres = await open_postgres(pg_url, settings.postgres_dir, pool_size=5)
    cache = MemoryCache(prefix="apex:")
    yield Services(settings=settings, postgres=postgres, analytics=analytics, cache=cache)
    await cache.close()
    await postgres.close()


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
async def app(services: Services) -> AsyncIterator[FastAPI]:
    """The app with its lifespan run (config snapshot, auction log), on the shared stores."""
    if not (services.settings.keys_dir / "keyring.json").exists():
        create_key(services.settings.keys_dir)
    application = create_app(services=services)
    async with application.router.lifespan_context(application):
        yield application


PHONE_BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def make_client(app: FastAPI) -> Iterator[Callable[[], httpx.AsyncClient]]:
    """New clients (each with its own cookie jar) on the shared app."""

    def make() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            # A phone's browser, as SDK traffic looks: httpx's own user agent is a scripted
            # client, which the invalid-traffic checks rightly refuse on the SDK endpoints.
            headers={"User-Agent": PHONE_BROWSER},
        )

    yield make


@pytest.fixture
async def tenant(make_client: Callable[[], httpx.AsyncClient]) -> AsyncIterator[Tenant]:
    async with make_client() as http:
        yield await Tenant.signup(http)


@pytest.fixture
async def other_tenant(make_client: Callable[[], httpx.AsyncClient]) -> AsyncIterator[Tenant]:
    async with make_client() as http:
        yield await Tenant.signup(http)


@pytest.fixture(scope="session")
def embedded_pg_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory for the embedded-server tests; the server is stopped at the end."""
    path = tmp_path_factory.mktemp("embedded") / "postgres"
    yield path
    EmbeddedPostgres(path).stop()
