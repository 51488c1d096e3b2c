"""No management endpoint lets one publisher read or change another's objects.

The matrix is built from the app's own OpenAPI description: a new route with an id in its path
fails this test until it is covered here.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from apex_mediation.billing import invoicing
from apex_mediation.services import Services
from tests.helpers import Tenant

# route template -> the kind of object its {id} names
OBJECT_ROUTES = {
    "/api/v1/apps/{app_id}": "app",
    "/api/v1/placements/{placement_id}": "placement",
    "/api/v1/network-accounts/{account_id}": "account",
    "/api/v1/api-keys/{key_id}": "key",
    # Receipts of real auctions are checked in tests/sdk/test_receipts.py; here the id only
    # has to be one the caller does not own.
    "/api/v1/transparency/auctions/{auction_id}": "auction",
    "/api/v1/transparency/placements/{placement_id}/verification": "placement",
    "/api/v1/billing/invoices/{invoice_id}": "invoice",
    "/api/v1/billing/invoices/{invoice_id}/html": "invoice",
    "/api/v1/billing/invoices/{invoice_id}/pdf": "invoice",
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "app"): {"name": "hijacked"},
    ("PUT", "placement"): {"name": "hijacked", "config": {}},
    ("PATCH", "account"): {"name": "hijacked", "credentials": {"k": "stolen"}},
}


def _object_routes(app: FastAPI) -> dict[str, list[str]]:
    """Route template -> its methods, for every /api/v1 route with an id in its path."""
    return {
        path: sorted(method.upper() for method in operations)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/") and "{" in path
    }


def test_every_object_route_is_in_the_matrix(app: FastAPI) -> None:
    assert set(_object_routes(app)) == set(OBJECT_ROUTES)


async def _invoice(services: Services, tenant: Tenant) -> str:
    last_month = (dt.datetime.now(dt.UTC).date().replace(day=1) - dt.timedelta(days=1)).replace(
        day=1
    )
    async with services.postgres.session() as session:
        invoice, _ = await invoicing.issue(
            session,
            services.settings,
            uuid.UUID(tenant.publisher_id),
            last_month,
            dt.datetime.now(dt.UTC),
        )
        await session.commit()
        return str(invoice.id)


async def _objects(tenant: Tenant, services: Services | None = None) -> dict[str, str]:
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
        "auction": "a" + placement["id"].replace("-", ""),
        **({"invoice": await _invoice(services, tenant)} if services else {}),
    }


async def test_another_publishers_ids_give_404_and_change_nothing(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, services: Services
) -> None:
    victim = await _objects(tenant, services)
    before = {
        kind: (await tenant.call("GET", _url(kind, object_id))).json()
        for kind, object_id in victim.items()
        if kind in ("app", "placement", "account")
    }
    keys_before = (await tenant.call("GET", "/api/v1/api-keys")).json()
    attempts = 0
    for path, methods in _object_routes(app).items():
        kind = OBJECT_ROUTES[path]
        url = re.sub(r"\{[a-z_]+\}", victim[kind], path)
        for method in methods:
            body = BODIES.get((method, kind))
            for caller in (other_tenant.call, other_tenant.session_call):
                response = await caller(method, url, json=body)
                attempts += 1
                assert response.status_code == 404, (method, url, response.text)
                assert response.json()["error"]["name"] == "NOT_FOUND"
    assert attempts == 2 * 15  # 15 method x route pairs, each by key and by session
    after = {
        kind: (await tenant.call("GET", _url(kind, object_id))).json()
        for kind, object_id in victim.items()
        if kind in ("app", "placement", "account")
    }
    assert after == before
    assert (await tenant.call("GET", "/api/v1/api-keys")).json() == keys_before


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


def _url(kind: str, object_id: str) -> str:
    prefix = {
        "app": "/api/v1/apps/",
        "placement": "/api/v1/placements/",
        "account": "/api/v1/network-accounts/",
    }[kind]
    return prefix + object_id
