"""Browser tests: Playwright driving Debian's Chromium against `apex serve` in its own process.

The server runs as in production would (its own data directory, embedded ClickHouse, a fresh
PostgreSQL database); the page fixture fails a test on any JavaScript error or console error,
which includes every Content-Security-Policy violation.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright

from tests.conftest import create_database, drop_database
from tests.tracking.test_crash_safety import _free_port, _start

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Chromium is installed by `make test` (make browser)"
)


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    operator_email: str
    operator_password: str


def _apex(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "apex_mediation", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="session")
def server(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = create_database(pg_admin_url, "apex_browser")
    port = _free_port()
    env = {
        **os.environ,
        "APEX_ENV": "development",
        "APEX_DATA_DIR": str(tmp_path_factory.mktemp("browser-var")),
        "APEX_SECRET_KEY": "browser-test-secret-" + secrets.token_hex(24),
        "DATABASE_URL": database,
        "APEX_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "APEX_LOG_LEVEL": "WARNING",
    }
    _apex(env, "migrate")
    _apex(env, "keys", "create")
    proc = _start(env, port)
    try:
        # Beside the running server, whose process holds the embedded ClickHouse: the
        # command must need PostgreSQL only.
        email, password = "ops@apex.example", "operator-" + secrets.token_hex(8)
        _apex(
            env,
            "admin",
            "create-publisher",
            "--name",
            "Apex Operations",
            "--email",
            email,
            "--password",
            password,
            "--operator",
        )
        yield Server(f"http://127.0.0.1:{port}", env, email, password)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        drop_database(pg_admin_url, database)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class Console:
    """A page plus every JavaScript problem it reported."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base_url + path)


async def open_console(browser: Browser, server: Server, width: int = 1280) -> Console:
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, accept_downloads=True
    )
    console = Console(await context.new_page(), server.base_url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.problems.append(f"console: {message.text}")

    def on_error(error: Error) -> None:
        console.problems.append(f"page error: {error.message}")

    console.page.on("console", on_console)
    console.page.on("pageerror", on_error)
    return console


@pytest.fixture
async def console(browser: Browser, server: Server) -> AsyncIterator[Console]:
    opened = await open_console(browser, server)
    yield opened
    await opened.page.context.close()
    assert opened.problems == [], opened.problems


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
