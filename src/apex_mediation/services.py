"""The composition root: opens every store once and hands them to the app."""

from __future__ import annotations

from dataclasses import dataclass

from apex_mediation.settings import Settings
from apex_mediation.stores.analytics import Analytics, open_analytics
from apex_mediation.stores.cache import Cache, open_cache
from apex_mediation.stores.postgres import Postgres, open_postgres


@dataclass
class Services:
    settings: Settings
    postgres: Postgres
    analytics: Analytics
    cache: Cache

    async def close(self) -> None:
        await self.cache.close()
        await self.analytics.close()
        await self.postgres.close()


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else None


async def open_postgres_only(settings: Settings, pool_size: int | None = None) -> Postgres:
    """PostgreSQL alone, for commands that must run beside a serving process: chDB's data
    directory belongs to the one process that opened it."""
    _ = settings.secret  # fail fast on a missing or weak production secret
    return await open_postgres(
        _secret(settings.database_url),
        settings.postgres_dir,
        pool_size=pool_size or settings.database_pool_size,
        embedded_port=settings.embedded_postgres_port,
    )


async def open_services(settings: Settings) -> Services:
    postgres = await open_postgres_only(settings)
    try:
        analytics = await open_analytics(
            _secret(settings.clickhouse_url), settings.clickhouse_dir, settings.clickhouse_database
        )
        cache = open_cache(_secret(settings.redis_url))
    except BaseException:
        await postgres.close()
        raise
    return Services(settings=settings, postgres=postgres, analytics=analytics, cache=cache)
