"""The shared app with the reporting router on it, until app.py includes it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from apex_mediation.api.routes import reporting
from apex_mediation.app import create_app
from apex_mediation.services import Services
from apex_mediation.stores.analytics import Analytics, open_analytics
from apex_mediation.stores.analytics_migrations import migrate_analytics


@pytest.fixture(scope="session")
def app(services: Services) -> FastAPI:
    """Overrides the root `app` here. No lifespan: these routes need only the stores."""
    application = create_app(services=services)
    paths = {getattr(route, "path", "") for route in application.routes}
    if f"{reporting.router.prefix}/overview" not in paths:  # once app.py includes it
        application.include_router(reporting.router)
    return application


@pytest.fixture
async def empty_store(chdb_dir: Path) -> AsyncIterator[Analytics]:
    """A database of its own, not migrated, through the server client (clickhouse-connect
    backed by chDB: a `chdb://` URL), dropped afterwards."""
    store = await open_analytics(
        f"chdb://{chdb_dir}", chdb_dir, f"reporting_{secrets.token_hex(6)}"
    )
    try:
        yield store
    finally:
        await store.command(f"DROP DATABASE IF EXISTS {store.database} SYNC")
        await store.close()


@pytest.fixture
async def server_store(empty_store: Analytics) -> Analytics:
    await migrate_analytics(empty_store)
    return empty_store
