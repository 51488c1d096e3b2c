"""Screenshots of the console with demo data, for the README: `make screenshots`.

Starts `apex demo` in a temporary data directory (a fresh PostgreSQL database when one answers
at 127.0.0.1:5432, else the embedded server), sends simulated SDK traffic for a while so the
reports fill, then drives Chromium through the main pages and saves PNGs in docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
APEX = [sys.executable, "-m", "apex_mediation"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database() -> str | None:
    name = f"apex_screens_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _wait(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f}s")


async def _shoot(page: Page, name: str) -> None:
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print("saved", OUT / f"{name}.png")


async def _first_link(page: Page, prefix: str) -> str | None:
    link = page.locator(f'main a[href^="{prefix}"]').first
    return await link.get_attribute("href") if await link.count() else None


async def _browse(base: str, creds: dict[str, str], operator: tuple[str, str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        page = await context.new_page()
        await page.goto(base + "/login")
        await _shoot(page, "login")
        await page.get_by_label("Email").fill(creds["email"])
        await page.get_by_label("Password").fill(creds["password"])
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url("**/dashboard")
        await page.wait_for_timeout(1500)  # charts and the realtime tile
        await _shoot(page, "dashboard")
        for path, name in (
            ("/apps", "apps"),
            ("/placements", "placements"),
            ("/network-accounts", "network-accounts"),
            ("/reports?range=7d", "reports"),
            ("/auctions", "auctions"),
            ("/settings", "settings"),
        ):
            await page.goto(base + path)
            await _shoot(page, name)
        for listing, prefix, name in (
            ("/apps", "/apps/", "app"),
            ("/placements", "/placements/", "placement"),
            ("/auctions", "/auctions/", "auction"),
        ):
            await page.goto(base + listing)
            href = await _first_link(page, prefix)
            if href:
                await page.goto(base + href)
                await _shoot(page, name)
        phone = await browser.new_context(viewport={"width": 375, "height": 800})
        small = await phone.new_page()
        await small.goto(base + "/login")
        await small.get_by_label("Email").fill(creds["email"])
        await small.get_by_label("Password").fill(creds["password"])
        await small.get_by_role("button", name="Log in").click()
        await small.wait_for_url("**/dashboard")
        await small.wait_for_timeout(1500)
        await _shoot(small, "dashboard-phone")
        ops = await browser.new_context(viewport={"width": 1280, "height": 860})
        page = await ops.new_page()
        await page.goto(base + "/login")
        await page.get_by_label("Email").fill(operator[0])
        await page.get_by_label("Password").fill(operator[1])
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url("**/dashboard")
        await page.goto(base + "/operator")
        await _shoot(page, "operator-publishers")
        await page.goto(base + "/operator/health")
        await _shoot(page, "operator-health")
        await browser.close()


def main() -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="apex-screens-") as data:
        env = {**os.environ, "APEX_DATA_DIR": data, "APEX_LOG_LEVEL": "WARNING"}
        database = _database()
        if database:
            env["DATABASE_URL"] = database
        env["APEX_DEMO_BIDDERS_PORT"] = str(_free_port())
        demo = subprocess.Popen(
            [*APEX, "demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(base + "/ready")
            creds = json.loads((Path(data) / "demo_credentials.json").read_text())
            operator = ("operator@apex.example", "operator-" + secrets.token_hex(8))
            subprocess.run(
                [*APEX, "admin", "create-publisher", "--name", "Apex Operations", "--email",
                 operator[0], "--password", operator[1], "--operator"],
                env=env, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            subprocess.run(
                [*APEX, "simulate", "--url", base, "--rate", "25", "--duration", "40"],
                env=env, check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            time.sleep(2)  # the last beacons reach ClickHouse
            asyncio.run(_browse(base, creds, operator))
        finally:
            demo.terminate()
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                demo.kill()


if __name__ == "__main__":
    main()
