"""Cross-tenant references and lists: one publisher never sees, nor refers to, another's objects.

Every operation of the OpenAPI document, with A's ids, is tried as B in
tests/security/test_tenant_isolation_openapi.py; these are the cases that need a specific body.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Tenant


async def _objects(tenant: Tenant) -> dict[str, str]:
    app = await tenant.android_app()
    placement = await tenant.create(
        "/api/v1/placements", {"name": "p", "appId": app["id"], "format": "banner"}
    )
    account = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "admob", "name": "main", "credentials": {"app_id": "ca-app-pub-123~456"}},
    )
    key = await tenant.create("/api/v1/api-keys", {"name": "k", "scopes": ["reporting"]})
    return {
        "app": app["id"],
        "placement": placement["id"],
        "account": account["id"],
        "key": key["id"],
    }


async def test_lists_show_only_the_callers_objects(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await _objects(tenant)
    theirs = await _objects(other_tenant)
    for url, kind in (
        ("/api/v1/apps", "app"),
        ("/api/v1/placements", "placement"),
        ("/api/v1/network-accounts", "account"),
    ):
        ids = {item["id"] for item in (await tenant.call("GET", url)).json()["data"]}
        assert mine[kind] in ids
        assert theirs[kind] not in ids
    key_ids = {k["id"] for k in (await tenant.call("GET", "/api/v1/api-keys")).json()}
    assert mine["key"] in key_ids and theirs["key"] not in key_ids


@pytest.mark.parametrize("field", ["appId", "networkAccountId"])
async def test_another_publishers_ids_cannot_be_referenced(
    tenant: Tenant, other_tenant: Tenant, field: str
) -> None:
    theirs = await _objects(other_tenant)
    own_app = await tenant.android_app()
    if field == "appId":
        body: dict[str, Any] = {"name": "p", "appId": theirs["app"], "format": "banner"}
    else:
        body = {
            "name": "p",
            "appId": own_app["id"],
            "format": "banner",
            "config": {"bidding": [{"network": "admob", "networkAccountId": theirs["account"]}]},
        }
    response = await tenant.call("POST", "/api/v1/placements", json=body)
    assert response.status_code == 400
    sdk_key = await tenant.call(
        "POST", "/api/v1/api-keys", json={"name": "k", "scopes": ["sdk"], "appId": theirs["app"]}
    )
    assert sdk_key.status_code == 404


async def test_publisher_header_for_a_foreign_publisher_is_404(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    response = await tenant.session_call(
        "GET", "/api/v1/apps", headers={"X-Publisher-Id": other_tenant.publisher_id}
    )
    assert response.status_code == 404
