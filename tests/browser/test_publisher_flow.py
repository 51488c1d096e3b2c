"""A publisher's first hour in a real browser, end to end against `apex serve`: sign up, create
an app and its SDK key, a placement, a network account; test an ad and record its impression;
see it in the dashboard's realtime tile; export a report as CSV. Then the operator finds the
new publisher and drills down. Any script error or CSP violation fails the test."""

from __future__ import annotations

import csv
import io
import re
import secrets
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Console, Server, open_console
from tests.browser.test_layout import sign_up

CHARTBOOST_APP_ID = "5f0ca1b2c3d4e5f6a7b8c9d0"  # 24 hex
CHARTBOOST_SIGNATURE = "9e8d7c6b5a4f3e2d1c0ba9b8c7d6e5f4a3b2c1d0"  # 40 hex


async def _create_app(page: Page) -> str:
    await page.get_by_role("link", name="Apps", exact=True).first.click()
    await page.goto(page.url.split("/apps")[0] + "/apps/new")
    await page.get_by_label("Name", exact=True).fill("Pixel Quest")
    await page.get_by_label("Platform").select_option("android")
    await page.get_by_label("Bundle id").fill("com.pixelforge.quest")
    await page.get_by_role("button", name="Create app").click()
    await page.wait_for_url(re.compile(r"/apps/[0-9a-f-]{36}\?flash=created"))
    app_id = re.search(r"/apps/([0-9a-f-]{36})", page.url)
    assert app_id
    # An SDK key, shown once; the page after it no longer holds it.
    await page.get_by_role("button", name="Create SDK key").click()
    key = (await page.get_by_test_id("new-key").inner_text()).strip()
    assert key.startswith("apx_"), key
    await page.reload()
    assert key not in await page.content()
    return app_id.group(1)


async def _create_placement(page: Page, base_url: str, app_id: str) -> str:
    await page.goto(f"{base_url}/placements/new?app_id={app_id}")
    await page.get_by_label("Name").fill("Level complete")
    await page.get_by_label("Format").select_option("banner")
    await page.get_by_role("button", name="Create placement").click()
    await page.wait_for_url(re.compile(r"/placements/[0-9a-f-]{36}\?flash=created"))
    found = re.search(r"/placements/([0-9a-f-]{36})", page.url)
    assert found
    return found.group(1)


async def _add_network_account(page: Page, base_url: str) -> None:
    await page.goto(f"{base_url}/network-accounts/new")
    await page.get_by_label("Network").select_option("chartboost")
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Name").fill("Chartboost main")
    await page.locator("#credential_app_id").fill(CHARTBOOST_APP_ID)
    await page.locator("#credential_app_signature").fill(CHARTBOOST_SIGNATURE)
    await page.get_by_role("button", name="Add account").click()
    await page.wait_for_url("**/network-accounts?done=created")
    listed = await page.content()
    assert "Chartboost main" in listed
    # Saved credentials are masked: the signature is not sent back to the browser.
    assert CHARTBOOST_SIGNATURE not in listed


async def _test_an_ad(page: Page, base_url: str, placement_id: str) -> None:
    await page.goto(f"{base_url}/placements/{placement_id}")
    await page.get_by_test_id("test-ad").click()
    # No bidder is configured: the auction still runs, and the test creative answers.
    await expect(page.get_by_test_id("winner-network")).to_have_text("apex_test", timeout=20_000)
    frame = page.locator("iframe.creative")
    assert await frame.get_attribute("sandbox") == "allow-scripts"
    await page.get_by_test_id("record-impression").click()
    await expect(page.get_by_test_id("impression-recorded")).to_be_visible(timeout=10_000)


async def _export_csv(
    page: Page, base_url: str, tmp_path: Path
) -> tuple[list[str], list[dict[str, str]]]:
    await page.goto(f"{base_url}/reports")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="by network").click()
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.suffix == ".csv", saved.name
    reader = csv.DictReader(io.StringIO(saved.read_text()))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


async def test_signup_to_exported_report_then_the_operator_finds_the_publisher(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    company = f"Pixel Forge {secrets.token_hex(3)}"
    publisher = await open_console(browser, server)
    page = publisher.page
    try:
        await publisher.goto("/signup")
        email, _ = await sign_up(page, company)
        await page.wait_for_url("**/apps?welcome=1")
        app_id = await _create_app(page)
        placement_id = await _create_placement(page, server.base_url, app_id)
        await _add_network_account(page, server.base_url)
        await _test_an_ad(page, server.base_url, placement_id)

        # The impression lands in the realtime tile within seconds, shown as test traffic.
        await publisher.goto("/dashboard")
        await expect(page.get_by_test_id("realtime-test-impressions")).to_contain_text(
            "1 test impression", timeout=20_000
        )
        columns, rows = await _export_csv(page, server.base_url, tmp_path)
        assert {"network", "impressions", "revenueMicros"} <= set(columns), columns
        assert rows == []  # test traffic is never in the reports, only in the tile above
        assert publisher.problems == [], publisher.problems
    finally:
        await page.context.close()

    operator = await open_console(browser, server)
    try:
        await _operator_finds(operator, server, company, email)
        assert operator.problems == [], operator.problems
    finally:
        await operator.page.context.close()


async def _operator_finds(console: Console, server: Server, company: str, email: str) -> None:
    page = console.page
    await console.goto("/login")
    await page.get_by_label("Email").fill(server.operator_email)
    await page.get_by_label("Password").fill(server.operator_password)
    await page.get_by_label("Password").press("Enter")
    await page.wait_for_url("**/dashboard")
    await page.get_by_role("link", name="Operator").click()
    await page.get_by_label("Search by publisher name or member email").fill(email)
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name=company).click()
    await expect(page.get_by_role("heading", name=company)).to_be_visible()
    details = await page.content()
    assert email in details and "Pixel Quest" in details
