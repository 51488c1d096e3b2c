"""No full IP address is stored: traffic from a known address (console signup and login, ad
requests with and without an advertising id, beacons) is sent, then every store is scanned —
each PostgreSQL table, each ClickHouse table, the files under the data directory (the durable
ingest log included) and the cache — for the address, for its bare MD5, SHA-1 and SHA-256, and
for the plain hash that weak device keys were once made of."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from apex_mediation.auction.pacing import hash_device
from apex_mediation.compliance.ip_hashing import IpHasher, hash_ip, period_key
from apex_mediation.demo.bidders import DemoBidders
from apex_mediation.services import Services
from apex_mediation.stores.cache import MemoryCache
from tests.conftest import PHONE_BROWSER
from tests.helpers import Tenant
from tests.sdk.test_mobile_auction import android_body

IP = "81.2.69.142"  # public (the detector ignores private and documentation ranges)
UA = "Dalvik/2.1.0"


def _needles() -> dict[str, bytes]:
    found = {
        "address": IP.encode(),
        "md5": hashlib.md5(IP.encode()).hexdigest().encode(),
        "sha1": hashlib.sha1(IP.encode()).hexdigest().encode(),
        "sha256": hashlib.sha256(IP.encode()).hexdigest().encode(),
        "unkeyed device key": hash_device(f"{IP}|{UA}")[1:].encode(),
    }
    return found


def _scan(where: str, blob: bytes, hits: list[str]) -> None:
    for name, needle in _needles().items():
        if needle in blob:
            hits.append(f"{name} in {where}")


async def _postgres(services: Services, hits: list[str]) -> None:
    async with services.postgres.session() as session:
        tables = list(
            await session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        )
        for table in tables:
            dump = await session.scalar(
                text(f"SELECT coalesce(string_agg(t::text, chr(10)), '') FROM \"{table}\" t")
            )
            _scan(f"postgres {table}", str(dump).encode(), hits)


async def _clickhouse(services: Services, hits: list[str]) -> None:
    tables = await services.analytics.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View'",
        {"db": services.analytics.database},
    )
    for row in tables:
        dump = await services.analytics.query_bytes(
            f"SELECT * FROM {row['name']}",
            None,
            "TabSeparated",
        )
        _scan(f"clickhouse {row['name']}", dump, hits)


def _files(root: Path, hits: list[str]) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            _scan(f"file {path.relative_to(root)}", path.read_bytes(), hits)


def _cache(cache: MemoryCache, hits: list[str]) -> None:
    stored: dict[str, Any] = {**cache._entries, **cache._windows}
    for key, value in stored.items():
        blob = key.encode() + b"\n" + (value.value if hasattr(value, "value") else b"")
        _scan(f"cache {key}", blob, hits)


def _rate_limits(app: FastAPI, hits: list[str]) -> None:
    """The rate limiter's counters (in memory here; the same keys go to Redis)."""
    storage = app.state.rate_limiter.storage
    keys = [*storage.storage, *storage.events, *storage.expirations]
    assert keys, "the traffic left no rate counter: the scan would prove nothing"
    for key in keys:
        _scan(f"rate limiter {key}", str(key).encode(), hits)


async def test_no_store_keeps_a_full_address(
    app: FastAPI, services: Services, bidders: DemoBidders
) -> None:
    assert isinstance(services.cache, MemoryCache)
    transport = httpx.ASGITransport(app=app, client=(IP, 50123))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": PHONE_BROWSER}
    ) as http:
        tenant = await Tenant.signup(http)
        assert (await http.post("/api/v1/auth/login", json={"email": tenant.email,
                "password": "not the password"})).status_code == 401  # fmt: skip
        android = await tenant.android_app()
        key = await tenant.create(
            "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": android["id"]}
        )
        placement = await tenant.create(
            "/api/v1/placements",
            {"name": "p", "appId": android["id"], "format": "interstitial",
             "config": {"bidding": [{"network": "openrtb",
                                     "params": {"endpoint": bidders.endpoint("high")}}]}},
        )  # fmt: skip
        await app.state.auction.snapshots.refresh()
        sdk = {"X-Api-Key": key["key"]}
        body = android_body(placement["id"])
        body["device_info"] = {**body["device_info"], "ip": IP, "user_agent": UA}
        tracked = await http.post("/v1/auction", json=body, headers=sdk)
        assert tracked.status_code == 200, tracked.text
        anonymous = {**body, "request_id": "req-lat", "user_info": {"limit_ad_tracking": True}}
        untracked = await http.post("/v1/auction", json=anonymous, headers=sdk)
        assert untracked.status_code in (200, 204), untracked.text
        for answer in (tracked, untracked):
            if answer.status_code == 200 and answer.json().get("winner"):
                imp = urlsplit(answer.json()["winner"]["tracking"]["imp"])
                assert (await http.get(f"{imp.path}?{imp.query}")).status_code == 204
    runtime = app.state.auction
    await runtime.ingest.sync()

    hits: list[str] = []
    _files(services.settings.data_dir, hits)  # the ingest log before it is shipped
    _cache(services.cache, hits)
    _rate_limits(app, hits)
    await runtime.shipper.drain()
    events = await services.analytics.query(
        "SELECT count() AS n FROM events WHERE publisher_id = {p:UUID}",
        {"p": uuid.UUID(tenant.publisher_id)},
    )
    assert events[0]["n"] >= 1  # the traffic did reach the stores
    await _postgres(services, hits)
    await _clickhouse(services, hits)
    _files(services.settings.data_dir, hits)
    assert hits == []

    # The truncated form is what the audit log keeps.
    async with services.postgres.session() as session:
        prefixes = set(
            await session.scalars(
                text("SELECT ip_prefix FROM audit_logs WHERE publisher_id = CAST(:p AS uuid)"),
                {"p": tenant.publisher_id},
            )
        )
    assert "81.2.69.0/24" in prefixes


def test_keyed_hashes_rotate_daily_and_need_the_secret() -> None:
    import datetime as dt

    day = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    secret = b"s" * 32
    same_day = hash_ip(secret, IP, day.replace(hour=23))
    assert hash_ip(secret, IP, day) == same_day
    assert hash_ip(secret, IP, day + dt.timedelta(days=1)) != same_day
    assert hash_ip(b"t" * 32, IP, day) != same_day
    assert period_key(secret, day) != period_key(secret, day + dt.timedelta(days=1))
    assert IpHasher(secret)(IP, day) == same_day
    assert IP not in same_day and len(same_day) == 32
