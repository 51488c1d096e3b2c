"""Network accounts in the console: choose a network, fill in its own credential fields, see
them masked; edit keeping or replacing secrets; delete; admins only; errors name the field."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import httpx
from sqlalchemy import select

from apex_mediation.accounts.passwords import hash_password
from apex_mediation.db.models import Membership, User
from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser

APP_ID = "5f0c" + "a1b2c3d4e5f6a7b8c9d0"  # 24 hex: Chartboost's app id
SIGNATURE = "9e8d7c6b5a4f3e2d1c0b" + "a9b8c7d6e5f4a3b2c1d0"  # 40 hex
NEW_SIGNATURE = "0123456789abcdef" * 2 + "fedcba98"


async def _create_chartboost(console: ConsoleUser, name: str = "Main") -> str:
    """Adds a Chartboost account through the form; its id, from the list's edit link."""
    form = "/network-accounts/new?network=chartboost"
    created = await console.post(
        "/network-accounts",
        {
            "network": "chartboost",
            "name": name,
            "credential_app_id": APP_ID,
            "credential_app_signature": SIGNATURE,
            "bid_adjustment": "95",
            "enabled": "on",
        },
        page=form,
    )
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/network-accounts?done=created"
    listed = await console.http.get("/network-accounts?done=created")
    found = re.search(
        rf'href="/network-accounts/([0-9a-f-]+)/edit">Edit<span[^>]*> {name}<', listed.text
    )
    assert found, listed.text
    return found.group(1)


async def test_choose_a_network_then_its_own_credential_fields(console: ConsoleUser) -> None:
    chooser = await console.http.get("/network-accounts/new")
    assert chooser.status_code == 200
    assert '<label for="network">' in chooser.text
    assert '<option value="chartboost">Chartboost</option>' in chooser.text
    assert '<option value="unity">Unity Ads</option>' in chooser.text

    form = await console.http.get("/network-accounts/new?network=chartboost")
    assert form.status_code == 200
    inputs = set(re.findall(r'name="(credential_\w+)"', form.text))
    assert inputs == {"credential_app_id", "credential_app_signature"}
    for field in ("name", "credential_app_id", "credential_app_signature", "bid_adjustment"):
        assert f'<label for="{field}">' in form.text

    unity = await console.http.get("/network-accounts/new?network=unity")
    assert set(re.findall(r'name="(credential_\w+)"', unity.text)) == {"credential_game_id"}
    meta = await console.http.get("/network-accounts/new?network=meta")
    assert "needs no account credentials" in meta.text

    unknown = await console.http.get("/network-accounts/new?network=nope")
    assert unknown.status_code == 400
    assert "network: unknown network" in unknown.text


async def test_create_edit_delete_with_masked_secrets(console: ConsoleUser) -> None:
    account_id = await _create_chartboost(console)
    listed = await console.http.get("/network-accounts?done=created")
    assert "Network account added." in listed.text
    assert "Chartboost" in listed.text and "Main" in listed.text
    assert "****" + APP_ID[-4:] in listed.text and "****" + SIGNATURE[-4:] in listed.text
    assert "95.0%" in listed.text
    assert 'data-confirm="Delete the Chartboost account' in listed.text

    edit = await console.http.get(f"/network-accounts/{account_id}/edit")
    assert edit.status_code == 200
    assert 'value="Main"' in edit.text and 'value="95"' in edit.text
    assert "****" + SIGNATURE[-4:] in edit.text
    for page in (listed, edit):
        assert APP_ID not in page.text and SIGNATURE not in page.text

    # Blank credentials keep what is stored; a new name and adjustment are saved.
    kept = await console.post(
        f"/network-accounts/{account_id}",
        {"name": "Renamed", "bid_adjustment": "110", "credential_app_id": ""},
        page=f"/network-accounts/{account_id}/edit",
    )
    assert kept.status_code == 303, kept.text
    listed = await console.http.get("/network-accounts?done=updated")
    assert "Network account saved." in listed.text and "Renamed" in listed.text
    assert "****" + SIGNATURE[-4:] in listed.text and "110.0%" in listed.text
    assert 'class="badge bad">disabled' in listed.text  # the box was left unticked

    # One typed value replaces only that credential.
    replaced = await console.post(
        f"/network-accounts/{account_id}",
        {
            "name": "Renamed",
            "bid_adjustment": "100",
            "enabled": "on",
            "credential_app_signature": NEW_SIGNATURE,
        },
        page=f"/network-accounts/{account_id}/edit",
    )
    assert replaced.status_code == 303, replaced.text
    listed = await console.http.get("/network-accounts")
    assert "****" + NEW_SIGNATURE[-4:] in listed.text and "****" + APP_ID[-4:] in listed.text
    edit = await console.http.get(f"/network-accounts/{account_id}/edit")
    for page in (listed, edit):
        for secret in (APP_ID, SIGNATURE, NEW_SIGNATURE):
            assert secret not in page.text

    deleted = await console.post(
        f"/network-accounts/{account_id}/delete", {}, page="/network-accounts"
    )
    assert deleted.status_code == 303
    listed = await console.http.get("/network-accounts?done=deleted")
    assert "Network account deleted." in listed.text and "Renamed" not in listed.text
    gone = await console.http.get(f"/network-accounts/{account_id}/edit")
    assert gone.status_code == 404


async def test_validation_errors_name_the_field_and_keep_what_was_typed(
    console: ConsoleUser,
) -> None:
    form = "/network-accounts/new?network=chartboost"
    base = {
        "network": "chartboost",
        "name": "Kept name",
        "credential_app_id": APP_ID,
        "credential_app_signature": SIGNATURE,
        "bid_adjustment": "120",
    }
    bad_id = await console.post("/network-accounts", {**base, "credential_app_id": "xyz"}, form)
    assert bad_id.status_code == 400
    assert 'role="alert"' in bad_id.text and "app id:" in bad_id.text
    assert 'id="credential_app_id" name="credential_app_id"' in bad_id.text
    assert 'value="Kept name"' in bad_id.text and 'value="120"' in bad_id.text
    assert SIGNATURE not in bad_id.text  # credentials are never echoed back
    assert 'aria-invalid="true"' in bad_id.text

    missing = await console.post(
        "/network-accounts", {**base, "credential_app_signature": ""}, form
    )
    assert missing.status_code == 400 and "app signature: required" in missing.text

    adjustment = await console.post("/network-accounts", {**base, "bid_adjustment": "0"}, form)
    assert adjustment.status_code == 400 and "bid adjustment:" in adjustment.text
    not_a_number = await console.post("/network-accounts", {**base, "bid_adjustment": "lots"}, form)
    assert not_a_number.status_code == 400 and "bid adjustment: not a number" in not_a_number.text
    unnamed = await console.post("/network-accounts", {**base, "name": "  "}, form)
    assert unnamed.status_code == 400 and "name:" in unnamed.text

    account_id = await _create_chartboost(console, "Twice")
    duplicate = await console.post("/network-accounts", {**base, "name": "Twice"}, form)
    assert duplicate.status_code == 409 and "name:" in duplicate.text
    assert "already exists" in duplicate.text

    edit = f"/network-accounts/{account_id}/edit"
    bad_edit = await console.post(
        f"/network-accounts/{account_id}",
        {"name": "Twice", "bid_adjustment": "100", "credential_app_signature": "short"},
        edit,
    )
    assert bad_edit.status_code == 400 and "app signature:" in bad_edit.text
    assert "****" + SIGNATURE[-4:] in bad_edit.text and "short" not in bad_edit.text
    assert SIGNATURE not in bad_edit.text
    listed = await console.http.get("/network-accounts")
    assert "****" + SIGNATURE[-4:] in listed.text  # nothing was changed


async def test_only_admins_manage_accounts(
    console: ConsoleUser, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    account_id = await _create_chartboost(console)
    password = "read-only-password-" + secrets.token_hex(4)
    async with services.postgres.session() as session:
        owner = await session.scalar(select(User).where(User.email == console.email))
        assert owner is not None
        membership = await session.scalar(select(Membership).where(Membership.user_id == owner.id))
        assert membership is not None
        viewer = User(
            email=f"viewer-{secrets.token_hex(4)}@example.com",
            password_hash=hash_password(password),
        )
        session.add(viewer)
        await session.flush()
        session.add(
            Membership(user_id=viewer.id, publisher_id=membership.publisher_id, role="member")
        )
        await session.commit()
        email = viewer.email
    async with make_client() as http:
        login = await http.post("/login", data={"email": email, "password": password})
        assert login.status_code == 303
        reader = ConsoleUser(http, email, password)
        listed = await http.get("/network-accounts")
        assert listed.status_code == 200
        assert "Main" in listed.text and "****" + SIGNATURE[-4:] in listed.text
        assert "/network-accounts/new" not in listed.text
        assert "/edit" not in listed.text and "/delete" not in listed.text
        assert "Only admins and owners" in listed.text
        assert (await http.get("/network-accounts/new")).status_code == 403
        assert (await http.get(f"/network-accounts/{account_id}/edit")).status_code == 403
        refused = await reader.post(
            f"/network-accounts/{account_id}/delete", {}, page="/network-accounts"
        )
        assert refused.status_code == 403 and "admin role" in refused.text
        create = await reader.post(
            "/network-accounts",
            {"network": "unity", "name": "x", "credential_game_id": "123"},
            page="/network-accounts",
        )
        assert create.status_code == 403
    still = await console.http.get("/network-accounts")
    assert "Main" in still.text
