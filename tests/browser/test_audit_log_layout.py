"""The audit log pages in a real browser: the owner's at 375 px without sideways scrolling, the
filters usable from the keyboard, and the operator's page; no script or CSP errors."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.conftest import Server, open_console
from tests.browser.test_layout import _no_horizontal_scroll, sign_up


async def test_owner_audit_log_fits_a_phone(browser: Browser, server: Server) -> None:
    phone = await open_console(browser, server, width=375)
    page = phone.page
    try:
        await phone.goto("/signup")
        await sign_up(page, "Audited On A Phone")
        await page.wait_for_url("**/apps?welcome=1")
        await phone.goto("/settings/team")
        await page.get_by_role("link", name="Audit log").click()
        await page.wait_for_url("**/settings/audit-log")
        await expect(page.locator('tr[data-action="publisher.created"]')).to_be_visible()
        await page.get_by_label("Action").fill("publisher")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/settings/audit-log?*action=publisher*")
        await expect(page.locator("tbody tr")).to_have_count(1)
        await _no_horizontal_scroll(page)
        assert phone.problems == [], phone.problems
    finally:
        await page.context.close()


async def test_operator_audit_log(browser: Browser, server: Server) -> None:
    desk = await open_console(browser, server)
    page = desk.page
    try:
        await desk.goto("/login")
        await page.get_by_label("Email").fill(server.operator_email)
        await page.get_by_label("Password").fill(server.operator_password)
        await page.get_by_label("Password").press("Enter")
        await page.wait_for_url("**/dashboard")
        await desk.goto("/operator")
        await page.get_by_role("link", name="Audit log").click()
        await page.wait_for_url("**/operator/audit-log")
        await expect(page.locator('tr[data-action="publisher.created"]').first).to_be_visible()
        await expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
        assert desk.problems == [], desk.problems
    finally:
        await page.context.close()
