"""The config snapshot: versioned, refreshed on change, kept when PostgreSQL is away."""

from __future__ import annotations

import socket

import pytest

from apex_mediation.auction.snapshot import SnapshotStore
from apex_mediation.services import Services
from apex_mediation.stores.postgres import open_postgres
from tests.sdk.conftest import Market


async def test_refresh_only_on_change(market: Market, services: Services) -> None:
    store = SnapshotStore(services.postgres, services.settings.secret)
    assert await store.refresh() is True
    version = store.current.version
    assert await store.refresh() is False
    assert store.current.version == version
    await market.placement()
    assert await store.refresh() is True
    assert store.current.version == version + 1


async def test_last_good_snapshot_survives_a_database_outage(
    market: Market, services: Services
) -> None:
    await market.placement()
    store = SnapshotStore(services.postgres, services.settings.secret)
    await store.refresh()
    good = store.current
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    # A real connection attempt to a port where no PostgreSQL listens.
    away = await open_postgres(
        f"postgresql://postgres@127.0.0.1:{closed_port}/x",
        services.settings.postgres_dir,
        pool_size=1,
    )
    store._postgres = away
    with pytest.raises(OSError):
        await store.refresh()
    assert store.current is good
    assert market.app_id in store.current.apps
    await away.close()
