"""kill -9 under beacon load, 10 rounds: every acknowledged event is in ClickHouse exactly once.

The server runs as its own process (`apex serve`) on a database of its own and a chDB directory
of its own; beacons carry tokens signed with the server's secret. After the last round the server
stops cleanly and a separate process counts the events (chDB allows one data path per process).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from apex_mediation.tracking.tokens import TokenSigner
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.embedded
SECRET = "crash-test-secret-" + "0123456789abcdef" * 3
ROUNDS = 10
APP = "00000000-0000-4000-8000-000000000001"  # tokens name no configured app: none is needed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    log = Path(env["APEX_DATA_DIR"]).parent / "server.log"
    with log.open("ab") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "apex_mediation", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"server did not start (exit {proc.poll()}):\n{tail}")


async def _load(port: int, signer: TokenSigner, round_no: int, stop_after_s: float) -> set[str]:
    """Send beacons until the server dies; return the auction ids that were acknowledged."""
    acknowledged: set[str] = set()
    started = time.monotonic()

    async def worker(worker_no: int, http: httpx.AsyncClient) -> None:
        for n in range(10_000):
            if time.monotonic() - started > stop_after_s + 5:
                return
            auction = f"r{round_no}-w{worker_no}-{n}"
            token = signer.sign(
                auction_id=auction,
                bid_id="b",
                app_id=APP,
                placement_id=APP,
                network="openrtb",
                price_micros=1_000_000,
                currency="USD",
                test=False,
            )
            try:
                response = await http.get("/t/imp", params={"token": token})
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code == 204:
                acknowledged.add(auction)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        await asyncio.gather(*(worker(w, http) for w in range(8)))
    return acknowledged


def _count_events(env: dict[str, str]) -> dict[str, int]:
    script = (
        "import asyncio, json, sys\n"
        "from pathlib import Path\n"
        "from apex_mediation.stores.analytics import open_analytics\n"
        "async def main():\n"
        "    store = await open_analytics(None, Path(sys.argv[1]), 'apex')\n"
        "    rows = await store.query('SELECT auction_id, count() AS c FROM events "
        "GROUP BY auction_id')\n"
        "    print(json.dumps({r['auction_id']: r['c'] for r in rows}))\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(Path(env["APEX_DATA_DIR"]) / "clickhouse")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    counts: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return counts


async def test_kill_minus_nine_loses_no_acknowledged_event(
    tmp_path: Path, pg_admin_url: str
) -> None:
    database = create_database(pg_admin_url, "apex_crash")
    env = {
        **os.environ,
        "APEX_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database,
        "APEX_SECRET_KEY": SECRET,
        "APEX_LOG_LEVEL": "ERROR",
        "APEX_SDK_RATE_PER_IP": "100000",
    }
    env.pop("CLICKHOUSE_URL", None)
    env.pop("REDIS_URL", None)
    signer = TokenSigner(SECRET.encode())
    rng = random.Random(20261125)
    port = _free_port()
    acknowledged: set[str] = set()
    try:
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "apex_mediation", "migrate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        for round_no in range(ROUNDS):
            proc = await asyncio.to_thread(_start, env, port)
            kill_after = rng.uniform(0.05, 0.6)
            load = asyncio.create_task(_load(port, signer, round_no, kill_after))
            await asyncio.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            acknowledged |= await load
        proc = await asyncio.to_thread(
            _start, env, port
        )  # replays what the last kill left undelivered
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 60) == 0
        counts = await asyncio.to_thread(_count_events, env)
    finally:
        drop_database(pg_admin_url, database)
    assert len(acknowledged) > 100  # the rounds really were under load
    missing = acknowledged - counts.keys()
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert {a: c for a, c in counts.items() if c != 1} == {}  # none counted twice
