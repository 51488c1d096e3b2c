"""Apps and API keys through the management API."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from apex_mediation.db.models import ApiKey
from apex_mediation.services import Services
from tests.helpers import Tenant


async def test_app_lifecycle(tenant: Tenant) -> None:
    web = await tenant.create(
        "/api/v1/apps",
        {
            "name": "Site",
            "platform": "web",
            "domain": "News.Example",
            "allowedOrigins": ["https://news.example/", "https://www.news.example"],
        },
    )
    assert web["domain"] == "news.example"
    assert web["allowedOrigins"] == ["https://news.example", "https://www.news.example"]
    assert web["testMode"] is False
    patched = await tenant.call(
        "PATCH", f"/api/v1/apps/{web['id']}", json={"testMode": True, "name": "Site 2"}
    )
    assert patched.status_code == 200
    assert patched.json()["testMode"] is True
    assert patched.json()["name"] == "Site 2"
    assert patched.json()["domain"] == "news.example"
    deleted = await tenant.call("DELETE", f"/api/v1/apps/{web['id']}")
    assert deleted.status_code == 204
    assert (await tenant.call("GET", f"/api/v1/apps/{web['id']}")).status_code == 404


async def test_key_is_shown_once_and_stored_hashed(tenant: Tenant, services: Services) -> None:
    created = await tenant.create("/api/v1/api-keys", {"name": "ci", "scopes": ["reporting"]})
    secret = created["key"]
    assert created["prefix"] == secret[:12]
    listed = await tenant.call("GET", "/api/v1/api-keys")
    assert secret not in listed.text
    async with services.postgres.session() as session:
        stored = await session.scalar(select(ApiKey).where(ApiKey.prefix == created["prefix"]))
    assert stored is not None
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()


async def test_revoked_key_stops_working_and_last_use_is_recorded(tenant: Tenant) -> None:
    created = await tenant.create("/api/v1/api-keys", {"name": "m", "scopes": ["management"]})
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await tenant.http.get("/api/v1/apps", headers=headers)).status_code == 200
    listed = {k["id"]: k for k in (await tenant.call("GET", "/api/v1/api-keys")).json()}
    assert listed[created["id"]]["lastUsedAt"] is not None
    revoked = await tenant.call("DELETE", f"/api/v1/api-keys/{created['id']}")
    assert revoked.json()["revokedAt"] is not None
    assert (await tenant.http.get("/api/v1/apps", headers=headers)).status_code == 401


async def test_sdk_key_rules(tenant: Tenant) -> None:
    no_app = await tenant.call("POST", "/api/v1/api-keys", json={"name": "s", "scopes": ["sdk"]})
    assert no_app.status_code == 400
    assert "appId" in no_app.json()["error"]["message"]
    app = await tenant.android_app()
    mixed = await tenant.call(
        "POST",
        "/api/v1/api-keys",
        json={"name": "s", "scopes": ["sdk", "reporting"], "appId": app["id"]},
    )
    assert mixed.status_code == 400
    unknown = await tenant.call("POST", "/api/v1/api-keys", json={"name": "s", "scopes": ["admin"]})
    assert unknown.status_code == 400
