"""Both schemas at once: PostgreSQL (Alembic) and ClickHouse (numbered SQL files)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from apex_mediation.db import migrate as pg
from apex_mediation.services import Services
from apex_mediation.stores.analytics_migrations import (
    migrate_analytics,
    pending_analytics_migrations,
)


@dataclass(frozen=True)
class Pending:
    postgres: list[str]
    clickhouse: list[str]

    @property
    def empty(self) -> bool:
        return not self.postgres and not self.clickhouse


async def pending(services: Services) -> Pending:
    return Pending(
        postgres=await asyncio.to_thread(pg.pending_revisions, services.postgres.url),
        clickhouse=await pending_analytics_migrations(services.analytics),
    )


async def upgrade(services: Services) -> Pending:
    """Apply everything pending; returns what was applied."""
    before = await pending(services)
    await asyncio.to_thread(pg.upgrade, services.postgres.url)
    applied_ch = await migrate_analytics(services.analytics)
    return Pending(postgres=before.postgres, clickhouse=applied_ch)
