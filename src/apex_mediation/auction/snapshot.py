"""The in-memory, versioned configuration snapshot the hot path reads instead of the database.

`SnapshotStore.refresh()` loads apps, placements with their lines, network accounts (credentials
decrypted, in memory only) and SDK key hashes in four queries and swaps the whole snapshot in one
assignment, so a request always sees one consistent version. A cheap fingerprint query decides
whether a reload is needed; when PostgreSQL is down the last good snapshot keeps serving.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import any_, literal, select, text

from apex_mediation.accounts.crypto import DecryptionError, decrypt_json
from apex_mediation.background import Periodic
from apex_mediation.db.models import ApiKey, App, NetworkAccount, Placement, PlacementLine
from apex_mediation.stores.postgres import Postgres

log = logging.getLogger(__name__)

snapshot_version = Gauge("auction_config_snapshot_version", "Version of the config snapshot")
snapshot_age_seconds = Gauge(
    "auction_config_snapshot_age_seconds", "Seconds since the config snapshot was last confirmed"
)

FINGERPRINT = text("""
SELECT concat_ws('|',
  (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM apps),
  (SELECT count(*) || ':' || coalesce(sum(config_version), 0) || ':'
          || coalesce(max(updated_at)::text, '') FROM placements),
  (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM network_accounts),
  (SELECT count(*) || ':' || count(revoked_at) FROM api_keys WHERE 'sdk' = ANY(scopes)))
""")


@dataclass(frozen=True, slots=True)
class AppConfig:
    id: str
    publisher_id: str
    platform: str
    bundle_id: str | None
    domain: str | None
    allowed_origins: frozenset[str]
    test_mode: bool
    active: bool


@dataclass(frozen=True, slots=True)
class LineConfig:
    kind: str  # "bidding" | "waterfall"
    network: str
    priority: int
    params: dict[str, Any]
    account_id: str | None
    credentials: dict[str, str]
    bid_adjustment_ppm: int
    ecpm_micros: int | None
    enabled: bool
    # Circuit breaker and latency history: per network account, or, for lines without one,
    # per network and params (two OpenRTB endpoints must not share a breaker).
    health_key: str = ""


def health_key(network: str, account_id: str | None, params: dict[str, Any]) -> str:
    if account_id:
        return account_id
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return f"{network}:{digest}"


@dataclass(frozen=True, slots=True)
class PlacementConfig:
    id: str
    app_id: str
    publisher_id: str
    name: str
    format: str
    floor_micros: int
    country_floors: dict[str, int]
    timeout_ms: int
    auction_type: str
    refresh_interval_s: int | None
    fcap_per_hour: int | None
    fcap_per_day: int | None
    min_interval_s: int | None
    enabled: bool
    config_version: int
    bidding: tuple[LineConfig, ...]
    waterfall: tuple[LineConfig, ...]


@dataclass(frozen=True)
class Snapshot:
    version: int
    apps: dict[str, AppConfig] = field(default_factory=dict)
    placements: dict[str, PlacementConfig] = field(default_factory=dict)
    sdk_keys: dict[str, str] = field(default_factory=dict)  # sha256(key) -> app id
    web_origins: frozenset[str] = frozenset()  # every app's allowed origins, for preflights

    def placements_of(self, app_id: str) -> list[PlacementConfig]:
        return [p for p in self.placements.values() if p.app_id == app_id]


async def load_snapshot(postgres: Postgres, secret: bytes, version: int) -> Snapshot:
    async with postgres.session() as session:
        apps = list(await session.scalars(select(App)))
        placements = list(await session.scalars(select(Placement)))
        lines = list(
            await session.scalars(
                select(PlacementLine).order_by(PlacementLine.kind, PlacementLine.priority)
            )
        )
        accounts = {a.id: a for a in await session.scalars(select(NetworkAccount))}
        keys = (
            await session.execute(
                select(ApiKey.key_hash, ApiKey.app_id).where(
                    ApiKey.revoked_at.is_(None),
                    ApiKey.app_id.is_not(None),
                    literal("sdk") == any_(ApiKey.scopes),
                )
            )
        ).all()
    credentials = {
        account_id: _decrypt(secret, account) for account_id, account in accounts.items()
    }
    lines_by_placement: dict[uuid.UUID, list[LineConfig]] = {}
    for line in lines:
        account = accounts.get(line.network_account_id) if line.network_account_id else None
        lines_by_placement.setdefault(line.placement_id, []).append(
            LineConfig(
                kind=line.kind,
                network=line.network,
                priority=line.priority,
                params=line.params,
                account_id=str(account.id) if account else None,
                credentials=credentials.get(account.id, {}) if account else {},
                bid_adjustment_ppm=account.bid_adjustment_ppm if account else 1_000_000,
                ecpm_micros=line.ecpm_micros,
                health_key=health_key(
                    line.network, str(account.id) if account else None, line.params
                ),
                enabled=line.enabled and (account.enabled if account else True),
            )
        )
    app_configs = {
        str(a.id): AppConfig(
            id=str(a.id),
            publisher_id=str(a.publisher_id),
            platform=a.platform,
            bundle_id=a.bundle_id,
            domain=a.domain,
            allowed_origins=frozenset(a.allowed_origins),
            test_mode=a.test_mode,
            active=a.status == "active",
        )
        for a in apps
    }
    placement_configs = {}
    for p in placements:
        own = lines_by_placement.get(p.id, [])
        placement_configs[str(p.id)] = PlacementConfig(
            id=str(p.id),
            app_id=str(p.app_id),
            publisher_id=str(p.publisher_id),
            name=p.name,
            format=p.format,
            floor_micros=p.floor_cpm_micros,
            country_floors=dict(p.country_floors),
            timeout_ms=p.timeout_ms,
            auction_type=p.auction_type,
            refresh_interval_s=p.refresh_interval_s,
            fcap_per_hour=p.fcap_per_hour,
            fcap_per_day=p.fcap_per_day,
            min_interval_s=p.min_interval_s,
            enabled=p.enabled,
            config_version=p.config_version,
            bidding=tuple(line for line in own if line.kind == "bidding"),
            waterfall=tuple(line for line in own if line.kind == "waterfall"),
        )
    origins = frozenset(o for a in app_configs.values() for o in a.allowed_origins)
    return Snapshot(
        version=version,
        apps=app_configs,
        placements=placement_configs,
        sdk_keys={key_hash: str(app_id) for key_hash, app_id in keys},
        web_origins=origins,
    )


def _decrypt(secret: bytes, account: NetworkAccount) -> dict[str, str]:
    try:
        return decrypt_json(
            secret,
            account.credentials_encrypted,
            f"network_account:{account.publisher_id}:{account.id}",
        )
    except DecryptionError:
        # One unreadable row must not take every placement down; the bidder gets no credentials
        # and its adapter reports what is missing.
        log.error("network account %s credentials do not decrypt", account.id)
        return {}


class SnapshotStore:
    def __init__(self, postgres: Postgres, secret: bytes, refresh_s: float = 1.0) -> None:
        self._postgres = postgres
        self._secret = secret
        self.refresh_s = refresh_s
        self.current = Snapshot(version=0)
        self._fingerprint: str | None = None
        self._confirmed_at = 0.0
        self._loop = Periodic("config snapshot refresh", refresh_s, self._tick)

    async def refresh(self, force: bool = False) -> bool:
        """Reload if the configuration changed; True if a new snapshot was installed."""
        async with self._postgres.engine.connect() as conn:
            fingerprint = str((await conn.execute(FINGERPRINT)).scalar_one())
        self._confirmed_at = time.monotonic()
        if fingerprint == self._fingerprint and not force:
            return False
        snapshot = await load_snapshot(self._postgres, self._secret, self.current.version + 1)
        self.current, self._fingerprint = snapshot, fingerprint
        snapshot_version.set(snapshot.version)
        return True

    def age_s(self) -> float:
        return time.monotonic() - self._confirmed_at if self._confirmed_at else float("inf")

    async def _tick(self) -> None:
        try:
            await self.refresh()
        finally:  # on failure (PostgreSQL away) the last good snapshot keeps serving
            snapshot_age_seconds.set(self.age_s())

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
