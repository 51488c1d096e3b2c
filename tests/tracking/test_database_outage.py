"""PostgreSQL stopped for 30 s under auction and beacon load: auctions keep serving from the
snapshot, beacons keep being accepted, /ready names what is down, and nothing is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from apex_mediation.demo.bidders import BidderProfile, DemoBidders
from apex_mediation.stores.embedded_postgres import EmbeddedPostgres
from tests.conftest import PHONE_BROWSER
from tests.helpers import Tenant
from tests.tracking.test_crash_safety import _count_events, _free_port, _start

pytestmark = pytest.mark.embedded
OUTAGE_S = 30
SECRET = "outage-test-secret-" + "fedcba9876543210" * 3


async def _setup(base: str, endpoint: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        tenant = await Tenant.signup(http)
        app = await tenant.android_app()
        placement = await tenant.create(
            "/api/v1/placements",
            {
                "name": "p",
                "appId": app["id"],
                "format": "interstitial",
                "config": {"bidding": [{"network": "openrtb", "params": {"endpoint": endpoint}}]},
            },
        )
        key = await tenant.create(
            "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": app["id"]}
        )
    return str(key["key"]), str(placement["id"])


async def _traffic(
    base: str, key: str, placement: str, seconds: float
) -> tuple[int, int, set[str], int]:
    """Auctions and their impression beacons for `seconds`:
    (auctions, 5xx, auctions whose beacon was acknowledged, filled auctions)."""
    auctions, server_errors, acknowledged, filled = 0, 0, set(), 0
    deadline = time.monotonic() + seconds
    # A phone's user agent: httpx's own is a scripted client, which the IVT checks block.
    browser = {"User-Agent": PHONE_BROWSER}
    async with httpx.AsyncClient(base_url=base, timeout=5, headers=browser) as http:
        while time.monotonic() < deadline:
            response = await http.post(
                "/v1/auction",
                headers={"X-Api-Key": key},
                json={"placement_id": placement, "ad_type": "interstitial"},
            )
            auctions += 1
            server_errors += response.status_code >= 500
            if response.status_code == 200:
                filled += 1
                body = response.json()
                imp = body["winner"]["tracking"]["imp"].split("://", 1)[1].split("/", 1)[1]
                beacon = await http.get("/" + imp)
                server_errors += beacon.status_code >= 500
                if beacon.status_code == 204:
                    acknowledged.add(body["auction_id"])
            await asyncio.sleep(0.05)
    return auctions, server_errors, acknowledged, filled


async def test_auctions_and_beacons_survive_a_database_outage(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg", port=_free_port())  # same port after restart
    database = postgres.start().url("postgres")
    bidders = DemoBidders(
        [
            BidderProfile(
                "b", bid_rate=1, price_sigma=0, latency_median_ms=2, latency_sigma=0, error_rate=0
            )
        ]
    )
    await bidders.start()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "APEX_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database,
        "APEX_SECRET_KEY": SECRET,
        "APEX_LOG_LEVEL": "ERROR",
        "APEX_PUBLIC_URL": base,
    }
    env.pop("CLICKHOUSE_URL", None)
    env.pop("REDIS_URL", None)
    proc: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "apex_mediation", "migrate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "apex_mediation", "keys", "create"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        proc = await asyncio.to_thread(_start, env, port)
        key, placement = await _setup(base, bidders.endpoint("b"))
        await asyncio.sleep(1.5)  # the snapshot picks the new placement up
        before = await _traffic(base, key, placement, 1)
        assert before[0] > 0 and before[2]

        await asyncio.to_thread(postgres.stop)
        ready = await asyncio.to_thread(httpx.get, f"{base}/ready", timeout=10)
        during = await _traffic(base, key, placement, OUTAGE_S)
        await asyncio.to_thread(postgres.start)
        after = await _traffic(base, key, placement, 1)

        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 60) == 0
        proc = None
        counts = await asyncio.to_thread(_count_events, env)
    finally:
        if proc is not None:
            proc.kill()
        await bidders.stop()
        await asyncio.to_thread(postgres.stop)
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["postgres"]
    assert during[0] > 100, during[0]  # auctions kept serving through the outage
    # Nearly all filled (a bidder may time out on a busy machine); every fill's beacon counted.
    assert during[3] >= 0.95 * during[0], during
    assert len(during[2]) == during[3]
    assert before[1] == during[1] == after[1] == 0  # no 5xx at any time
    acknowledged = before[2] | during[2] | after[2]
    assert acknowledged <= counts.keys(), json.dumps(sorted(acknowledged - counts.keys())[:3])
    assert all(counts[a] == 1 for a in acknowledged)
