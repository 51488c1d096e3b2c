"""Signed SDK configs per app: built from the config snapshot, versioned, cached.

A config's `version` bumps whenever its content changes: the content digest (everything but the
timestamp and signatures) is compared with the app's latest row in `app_config_versions`, and a
new row is written only on change. The version row's creation time is the signed `timestamp`, so
rebuilding gives the same bytes and the ETag holds until the content changes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from apex_mediation.auction.adapters.registry import get_adapter
from apex_mediation.auction.snapshot import AppConfig, Snapshot
from apex_mediation.db.models import AppConfigVersion, ConfigSigningKey
from apex_mediation.sdk.config_document import (
    AdapterConfigInput,
    AppConfigInput,
    PlacementConfigInput,
    SignedConfig,
    build_config,
    canonical_json,
)
from apex_mediation.sdk.config_signing import KeyRing, public_key_rows
from apex_mediation.stores.postgres import Postgres


def config_input(snapshot: Snapshot, app: AppConfig, version: int) -> AppConfigInput:
    placements: list[PlacementConfigInput] = []
    networks: dict[str, int] = {}
    for placement in sorted(snapshot.placements_of(app.id), key=lambda p: p.id):
        if not placement.enabled:
            continue
        lines = [line for line in (*placement.bidding, *placement.waterfall) if line.enabled]
        enabled = sorted({line.network for line in lines})
        placements.append(
            PlacementConfigInput(
                placement_id=placement.id,
                ad_format=placement.format,
                enabled_networks=enabled,
                timeout_ms=placement.timeout_ms,
                floor_price_micros=placement.floor_micros,
                refresh_interval_s=placement.refresh_interval_s,
            )
        )
        for line in lines:
            priority = line.priority if line.kind == "waterfall" else 0
            if line.network not in networks or priority < networks[line.network]:
                networks[line.network] = priority
    adapters = []
    for name, priority in sorted(networks.items()):
        adapter = get_adapter(name)
        required = (
            sorted(getattr(adapter.credentials_type, "__struct_fields__", ())) if adapter else []
        )
        # Per-placement instance params travel in auction responses; the app-wide config holds
        # no params, so nothing secret can ever reach it.
        adapters.append(
            AdapterConfigInput(
                name=name,
                enabled=True,
                priority=priority,
                supports_s2s=bool(adapter and adapter.mode == "s2s"),
                required_credential_keys=list(required),
            )
        )
    return AppConfigInput(app_id=app.id, version=version, placements=placements, adapters=adapters)


def content_digest(inp: AppConfigInput) -> str:
    """The digest of what the config says, independent of version, time and key."""
    doc = {
        "placements": [p.__dict__ for p in inp.placements],
        "adapters": [a.__dict__ for a in inp.adapters],
        "features": inp.features.__dict__,
    }
    return hashlib.sha256(canonical_json(doc)).hexdigest()


@dataclass(frozen=True)
class _Cached:
    digest: str
    key_id: str
    config: SignedConfig


class ConfigService:
    def __init__(self, postgres: Postgres, ring: KeyRing) -> None:
        self._postgres = postgres
        self.ring = ring
        self._cache: dict[str, _Cached] = {}
        self._lock = asyncio.Lock()

    async def publish_keys(self) -> None:
        """Upsert the public halves of the key ring (app_config_versions refers to them)."""
        async with self._postgres.session() as session:
            for row in public_key_rows(self.ring):
                statement = insert(ConfigSigningKey).values(**row)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["key_id"],
                        set_={
                            "retired_at": statement.excluded.retired_at,
                            "verify_until": statement.excluded.verify_until,
                        },
                    )
                )
            await session.commit()

    async def config_for(self, snapshot: Snapshot, app: AppConfig) -> SignedConfig:
        digest = content_digest(config_input(snapshot, app, 1))
        cached = self._cache.get(app.id)
        if cached and cached.digest == digest and cached.key_id == self.ring.active.key_id:
            return cached.config
        async with self._lock:  # one version row per change, even under concurrent requests
            version, created = await self._version(app.id, digest)
            config = build_config(
                config_input(snapshot, app, version), self.ring, int(created.timestamp() * 1000)
            )
            self._cache[app.id] = _Cached(digest, self.ring.active.key_id, config)
            return config

    async def _version(self, app_id: str, digest: str) -> tuple[int, dt.datetime]:
        app_uuid = uuid.UUID(app_id)
        async with self._postgres.session() as session:
            latest = await session.scalar(
                select(AppConfigVersion)
                .where(AppConfigVersion.app_id == app_uuid)
                .order_by(AppConfigVersion.version.desc())
                .limit(1)
            )
            if (
                latest is not None
                and latest.payload_digest == digest
                and latest.key_id == self.ring.active.key_id
            ):
                return latest.version, latest.created_at
            row = AppConfigVersion(
                app_id=app_uuid,
                version=(latest.version + 1) if latest else 1,
                config_id=f"{app_id.replace('-', '')}-v{(latest.version + 1) if latest else 1}",
                payload_digest=digest,
                key_id=self.ring.active.key_id,
                created_at=func.now(),
            )
            session.add(row)
            await session.flush()
            await session.refresh(row)
            await session.commit()
            return row.version, row.created_at
