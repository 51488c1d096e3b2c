"""Odd input typed or sent to console pages: a clear 4xx naming the field, or a sensible default,
never a 5xx; and nothing saved from a refused form."""

from __future__ import annotations

from sqlalchemy import func, select

from apex_mediation.db.models import Invitation
from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser
from tests.console.test_apps_pages import create_app, publisher_of
from tests.console.test_placements_pages import create_placement, edit, save

TEAM = "/settings/team"


async def test_an_invitation_to_a_malformed_address_is_refused_and_not_saved(
    console: ConsoleUser, services: Services
) -> None:
    for address in ("<@", "a@[b", "a@b.example, c@d.example", "nobody"):
        response = await console.post(
            "/settings/invitations", {"email": address, "role": "member"}, TEAM
        )
        assert response.status_code == 400, (address, response.status_code)
        assert "email: email is not a valid address" in response.text, address
    publisher = await publisher_of(console)
    async with services.postgres.session() as session:
        saved = await session.scalar(
            select(func.count()).select_from(Invitation).where(Invitation.publisher_id == publisher)
        )
    assert saved == 0


async def test_non_ascii_digits_and_huge_numbers(console: ConsoleUser) -> None:
    for path in (
        "/apps?page=²",
        "/placements?page=٣",
        "/network-accounts?page=99999999999999999999",
    ):
        response = await console.http.get(path)
        assert response.status_code == 200, path  # page 1
    placement = await create_placement(console, await create_app(console))
    timeout = await save(console, placement, edit(timeout_ms="²"))
    assert timeout.status_code == 400 and "is not a whole number" in timeout.text
    form = "/network-accounts/new?network=chartboost"
    account = {
        "network": "chartboost",
        "name": "Huge",
        "credential_app_id": "5f0ca1b2c3d4e5f6a7b8c9d0",
        "credential_app_signature": "9e8d7c6b5a4f3e2d1c0ba9b8c7d6e5f4a3b2c1d0",
    }
    for adjustment in ("1e999999", "-1e999999", "NaN", "Infinity"):
        response = await console.post(
            "/network-accounts", {**account, "bid_adjustment": adjustment}, form
        )
        assert response.status_code == 400, adjustment
        assert "bid adjustment: " in response.text, adjustment
