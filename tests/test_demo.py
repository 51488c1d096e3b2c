"""`apex demo` from nothing: embedded PostgreSQL, chDB, migrations, demo data, a green /ready;
then `apex doctor` against what it set up reports green."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from apex_mediation.stores.embedded_postgres import EmbeddedPostgres
from tests.conftest import PHONE_BROWSER

pytestmark = pytest.mark.embedded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout_s: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"apex demo exited with {proc.returncode}: "
                f"{proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            last = httpx.get(f"{url}/ready", timeout=5)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"/ready not green in {timeout_s}s: {last.text if last else 'no answer'}")


def test_demo_from_an_empty_data_dir_reaches_ready_with_demo_data(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CLICKHOUSE_URL", "REDIS_URL", "APEX_SECRET_KEY")
    }
    env.update(
        {
            "APEX_DATA_DIR": str(tmp_path / "var"),
            "APEX_PORT": str(port),
            "COLUMNS": "60",
            "APEX_DEMO_BIDDERS_PORT": str(_free_port()),
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "apex_mediation", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = _wait_ready(url, proc)
        assert ready.json()["failed"] == []
        creds = tmp_path / "var" / "demo_credentials.json"
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        import json

        demo = json.loads(creds.read_text())
        headers = {"Authorization": f"Bearer {demo['management_key']}"}
        placements = httpx.get(f"{url}/api/v1/placements", headers=headers, timeout=10).json()
        assert placements["pagination"]["total"] == 4
        auction = httpx.post(
            f"{url}/v1/auction?debug=1",
            timeout=10,
            # The trace of a live auction goes to a holder of the publisher's management key.
            headers={"X-Api-Key": demo["sdk_key"], "User-Agent": PHONE_BROWSER, **headers},
            json={"placement_id": demo["placement_id"], "ad_type": "interstitial"},
        )
        assert auction.status_code == 200, auction.text
        result = auction.json()
        assert result["test"] is False  # live, so that the demo's reports fill
        # A real auction: the three demo bidders were called and a real candidate won.
        assert result["winner"]["adapter_name"] in ("openrtb", "admob")
        called = [c for c in result["debug"]["candidates"] if c["network"] == "openrtb"]
        assert len(called) == 3
        assert all(c["outcome"] in ("bid", "no_bid", "error") for c in called)
        simulated = subprocess.run(
            [
                sys.executable,
                "-m",
                "apex_mediation",
                "simulate",
                "--url",
                url,
                "--rate",
                "20",
                "--duration",
                "1",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert simulated.returncode == 0, simulated.stderr
        assert "requests=20" in simulated.stdout.replace(" ", "")
        # Last month of simulated traffic, invoiced: a line per band, adding up, paid in the
        # local Stripe stand-in.
        invoices = httpx.get(f"{url}/api/v1/billing/invoices", headers=headers, timeout=10).json()
        assert len(invoices) == 1, invoices
        invoice = httpx.get(
            f"{url}/api/v1/billing/invoices/{invoices[0]['id']}", headers=headers, timeout=10
        ).json()
        lines = invoice["lines"]
        assert [line["band"] for line in lines] == ["starter", "growth", "scale", "enterprise"]
        assert sum(line["revenueMicros"] for line in lines) == invoice["revenueMicros"] > 0
        assert sum(line["amountCents"] for line in lines) == invoice["totalCents"] > 0
        starter, growth = lines[0], lines[1]
        assert starter["revenueMicros"] == 10_000_000_000 and starter["amountCents"] == 0
        # 2.5 % of the revenue above $10,000, to the cent (half up).
        assert (
            growth["amountCents"] == (growth["revenueMicros"] * 25_000 // 10**6 + 5_000) // 10_000
        )
        assert invoice["status"] == "paid" and invoice["amountPaidCents"] == invoice["totalCents"]
        login = httpx.post(
            f"{url}/api/v1/auth/login",
            timeout=10,
            json={"email": demo["email"], "password": demo["password"]},
        )
        assert login.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        leftover = EmbeddedPostgres(tmp_path / "var" / "postgres")
        was_running = leftover.running()
        leftover.stop()
    assert proc.returncode == 0, output
    # Printed whole (not truncated to the terminal), so they can be copied.
    assert demo["sdk_key"] in output
    assert demo["management_key"] in output
    # The app started the embedded server, so the app stopped it.
    assert was_running is None
    # The pre-deployment checklist against the demo's install: green.
    doctor = subprocess.run(
        [sys.executable, "-m", "apex_mediation", "doctor"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "ready: every check passed" in doctor.stdout
    assert "fail" not in doctor.stdout.split()
    EmbeddedPostgres(tmp_path / "var" / "postgres").stop()
