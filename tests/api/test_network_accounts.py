"""BYO credentials: write-only, masked, encrypted at rest and bound to their row."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from apex_mediation.accounts.crypto import DecryptionError
from apex_mediation.db.models import NetworkAccount
from apex_mediation.inventory.network_accounts import credentials
from apex_mediation.services import Services
from tests.helpers import Tenant

SECRET_VALUE = "sk-live-abcdefghijklmnop1234"


async def test_credentials_are_never_returned(tenant: Tenant) -> None:
    created = await tenant.create(
        "/api/v1/network-accounts",
        {
            "network": "openrtb",
            "name": "main",
            "credentials": {"auth_token": SECRET_VALUE, "auth_header": "X-Key"},
        },
    )
    assert created["credentials"] == {"auth_header": "****", "auth_token": "****1234"}
    for response in (
        await tenant.call("GET", f"/api/v1/network-accounts/{created['id']}"),
        await tenant.call("GET", "/api/v1/network-accounts"),
    ):
        assert SECRET_VALUE not in response.text
        assert "X-Key" not in response.text


async def test_credentials_are_encrypted_at_rest(tenant: Tenant, services: Services) -> None:
    created = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "applovin", "name": "enc", "credentials": {"sdk_key": SECRET_VALUE}},
    )
    async with services.postgres.session() as session:
        account = await session.get(NetworkAccount, uuid.UUID(created["id"]))
        assert account is not None
        assert SECRET_VALUE.encode() not in account.credentials_encrypted
        assert credentials(services.settings.secret, account) == {"sdk_key": SECRET_VALUE}


async def test_ciphertext_moved_to_another_row_does_not_decrypt(
    tenant: Tenant, services: Services
) -> None:
    a = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "unity", "name": "a", "credentials": {"game_id": "111111111111"}},
    )
    b = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "unity", "name": "b", "credentials": {"game_id": "222222222222"}},
    )
    async with services.postgres.session() as session:
        blob = await session.scalar(
            select(NetworkAccount.credentials_encrypted).where(
                NetworkAccount.id == uuid.UUID(a["id"])
            )
        )
        await session.execute(
            update(NetworkAccount)
            .where(NetworkAccount.id == uuid.UUID(b["id"]))
            .values(credentials_encrypted=blob)
        )
        await session.commit()
        moved = await session.get(NetworkAccount, uuid.UUID(b["id"]))
        assert moved is not None
        with pytest.raises(DecryptionError):
            credentials(services.settings.secret, moved)


async def test_patch_replaces_credentials(tenant: Tenant, services: Services) -> None:
    created = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "admob", "name": "m", "credentials": {"app_id": "ca-app-pub-1~1111"}},
    )
    response = await tenant.call(
        "PATCH",
        f"/api/v1/network-accounts/{created['id']}",
        json={
            "credentials": {"app_id": "ca-app-pub-999999999999~1234"},
            "bidAdjustmentPpm": 900_000,
        },
    )
    assert response.status_code == 200
    assert response.json()["credentials"] == {"app_id": "****1234"}
    assert response.json()["bidAdjustmentPpm"] == 900_000


async def test_duplicate_name_per_network_is_a_conflict(tenant: Tenant) -> None:
    body = {"network": "openrtb", "name": "same", "credentials": {}}
    await tenant.create("/api/v1/network-accounts", body)
    response = await tenant.call("POST", "/api/v1/network-accounts", json=body)
    assert response.status_code == 409


async def test_credentials_must_fit_the_networks_model(tenant: Tenant) -> None:
    response = await tenant.call(
        "POST",
        "/api/v1/network-accounts",
        json={"network": "unity", "name": "bad", "credentials": {"game_id": "not digits"}},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"]["fields"][0]["field"] == "credentials"
    assert "game_id" in error["message"]
    unknown = await tenant.call(
        "POST",
        "/api/v1/network-accounts",
        json={"network": "nosuchnet", "name": "x", "credentials": {}},
    )
    assert unknown.status_code == 400
    assert "unknown network" in unknown.json()["error"]["message"]
