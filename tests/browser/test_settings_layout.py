"""Settings and password reset in a real browser at 375 px: no sideways scrolling, no script or
CSP errors, the one-time key box with its copy button, forms usable by keyboard."""

from __future__ import annotations

import secrets

from playwright.async_api import Browser, expect

from tests.browser.conftest import Server, open_console
from tests.browser.test_layout import _no_horizontal_scroll, sign_up


async def test_settings_fit_a_phone(browser: Browser, server: Server) -> None:
    phone = await open_console(browser, server, width=375)
    page = phone.page
    try:
        await phone.goto("/password-reset")
        await _no_horizontal_scroll(page)
        await phone.goto("/signup")
        await sign_up(page, "Settings On A Phone")
        await page.wait_for_url("**/apps?welcome=1")

        await phone.goto("/settings")
        await page.wait_for_url("**/settings/team")
        await page.get_by_label("Email", exact=True).fill(f"p-{secrets.token_hex(3)}@example.com")
        await page.get_by_label("Role", exact=True).select_option("admin")
        await page.get_by_role("button", name="Send invitation").click()
        await page.wait_for_url("**/settings/team?done=invited*")
        await expect(page.get_by_role("status")).to_be_visible()
        await _no_horizontal_scroll(page)

        await phone.goto("/settings/api-keys")
        await page.get_by_label("Name").fill("Phone key")
        await page.get_by_label("Reporting").focus()
        await page.keyboard.press("Space")  # a checkbox ticked from the keyboard
        await page.get_by_role("button", name="Create key").click()
        box = page.locator(".secret code#new-key")
        await expect(box).to_contain_text("apx_srv_")
        await expect(page.get_by_role("button", name="Copy")).to_be_visible()
        await _no_horizontal_scroll(page)

        await phone.goto("/settings/notifications")
        await page.get_by_label("Marketing").check()
        await page.get_by_role("button", name="Save preferences").click()
        await page.wait_for_url("**/settings/notifications?done=saved")
        await expect(page.get_by_label("Marketing")).to_be_checked()
        await _no_horizontal_scroll(page)
        assert phone.problems == [], phone.problems
    finally:
        await page.context.close()
