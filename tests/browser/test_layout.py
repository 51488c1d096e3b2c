"""The console in a real browser: no script errors or CSP violations, charts drawn from the
packaged Chart.js, usable by keyboard and at 375 px without horizontal scrolling."""

from __future__ import annotations

import secrets

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Console, Server, open_console


async def sign_up(page: Page, company: str = "Pixel Forge Games") -> tuple[str, str]:
    email = f"owner-{secrets.token_hex(4)}@pixelforge.example"
    password = "browser-password-" + secrets.token_hex(4)
    await page.get_by_label("Company or publisher name").fill(company)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Create account").click()
    return email, password


async def _no_horizontal_scroll(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


async def test_login_by_keyboard_and_the_dashboard_draws(console: Console) -> None:
    await console.goto("/signup")
    await sign_up(console.page)
    await console.page.wait_for_url("**/apps?welcome=1")
    await console.goto("/dashboard")
    await expect(console.page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # Chart.js (from the npm package, served by Apex) drew into every canvas.
    await console.page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-chart]')]"
        ".filter(c => Chart.getChart(c)).length === 3",
        timeout=10_000,
    )
    await expect(console.page.get_by_test_id("realtime-impressions")).to_be_visible()
    # Log out and back in with the keyboard only.
    await console.page.get_by_role("button", name="Log out").click()
    await console.page.wait_for_url("**/login")


async def test_pages_fit_a_phone(browser: Browser, server: Server) -> None:
    phone = await open_console(browser, server, width=375)
    try:
        await phone.goto("/signup")
        await _no_horizontal_scroll(phone.page)
        await sign_up(phone.page, "Small Screen Studio")
        await phone.page.wait_for_url("**/apps?welcome=1")
        for path in ("/dashboard", "/apps", "/placements", "/network-accounts", "/reports"):
            await phone.goto(path)
            await _no_horizontal_scroll(phone.page)
        assert phone.problems == [], phone.problems
    finally:
        await phone.page.context.close()


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.labels.length === 0
                && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


async def test_every_form_control_has_a_label(console: Console) -> None:
    await console.goto("/signup")
    assert await console.page.evaluate(UNLABELLED) == []
    await sign_up(console.page, "Labelled Games")
    await console.page.wait_for_url("**/apps?welcome=1")
    await console.goto("/apps/new")
    await console.page.get_by_label("Name", exact=True).fill("Labelled")
    await console.page.get_by_label("Bundle id").fill("com.example.labelled")
    await console.page.get_by_role("button", name="Create app").click()
    await console.page.wait_for_url("**/apps/*")
    app_page = console.page.url
    pages = ["/reports", "/settings/team", "/settings/api-keys", "/settings/notifications",
             "/network-accounts/new", "/placements/new", "/auctions"]  # fmt: skip
    checked = {app_page: await console.page.evaluate(UNLABELLED)}
    for path in pages:
        await console.goto(path)
        checked[path] = await console.page.evaluate(UNLABELLED)
    # The placement editor: floors, bidders and waterfall lines.
    await console.goto("/placements/new")
    await console.page.get_by_label("Name").fill("Level end")
    await console.page.get_by_role("button", name="Create placement").click()
    await console.page.wait_for_url("**/placements/*")
    checked[console.page.url] = await console.page.evaluate(UNLABELLED)
    assert {page: found for page, found in checked.items() if found} == {}
