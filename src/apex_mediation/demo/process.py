"""`apex demo` in a process of its own, in a temporary data directory: for the screenshot script
and the console benchmark, which need a realistic server with demo data and then throw it away.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from apex_mediation.demo.seed import DemoCredentials

APEX = [sys.executable, "-m", "apex_mediation"]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class DemoServer:
    base_url: str
    credentials: DemoCredentials
    env: dict[str, str]

    def apex(self, *args: str, timeout: float = 300) -> str:
        """Run an `apex` command against this server's stores."""
        done = subprocess.run(  # noqa: S603 - our own CLI, arguments we built
            [*APEX, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"apex {args[0]} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    def simulate(self, rate: float, duration_s: float) -> None:
        self.apex(
            "simulate", "--url", self.base_url, "--rate", str(rate), "--duration", str(duration_s)
        )

    def create_operator(self) -> tuple[str, str]:
        email, password = "operator@apex.example", "operator-" + secrets.token_hex(8)
        self.apex(
            "admin", "create-publisher", "--name", "Apex Operations", "--email", email,
            "--password", password, "--operator",
        )  # fmt: skip
        return email, password


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database() -> tuple[str, str] | None:
    """A fresh database on the local PostgreSQL server, if one answers: (url, name)."""
    name = f"apex_demo_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name, name


def _drop(name: str) -> None:
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=2) as conn,
    ):
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f}s")


@contextlib.contextmanager
def demo_server(start_timeout_s: float = 180) -> Iterator[DemoServer]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = _database()
    with tempfile.TemporaryDirectory(prefix="apex-demo-") as data:
        env = {
            **os.environ,
            "APEX_DATA_DIR": data,
            "APEX_LOG_LEVEL": "WARNING",
            "APEX_DEMO_BIDDERS_PORT": str(free_port()),
        }
        if database:
            env["DATABASE_URL"] = database[0]
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [*APEX, "demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(base + "/ready", start_timeout_s)
            doc = json.loads((Path(data) / "demo_credentials.json").read_text())
            yield DemoServer(base, DemoCredentials(**doc), env)
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
            if database:
                _drop(database[1])
