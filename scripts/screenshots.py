"""Screenshots of the console with demo data, for the README: `make screenshots`.

Starts `apex demo` in a temporary data directory (apex_mediation.demo.process), sends simulated
SDK traffic for a while so the reports fill, then drives Chromium through the main pages and
saves PNGs in docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright

from apex_mediation.demo.process import demo_server

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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
    with demo_server() as server:
        operator = server.create_operator()
        server.simulate(rate=25, duration_s=40)
        time.sleep(2)  # the last beacons reach ClickHouse
        creds = {"email": server.credentials.email, "password": server.credentials.password}
        asyncio.run(_browse(server.base_url, creds, operator))


if __name__ == "__main__":
    main()
