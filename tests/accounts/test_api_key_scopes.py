"""API key scopes on every route: walk each `/api/v1` route that accepts an API key and prove
that a key without the scope the route needs is refused with 403 — and that the scope, not
something else, is what decides."""

from __future__ import annotations

import importlib
import pkgutil
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import apex_mediation.api.routes as route_modules
from apex_mediation.api import deps
from apex_mediation.api.routes.reporting import reporting_actor
from apex_mediation.db.models import API_KEY_SCOPES
from tests.accounts.conftest import ClientFactory
from tests.helpers import Tenant

SCOPE_OF: dict[Callable[..., Any], str] = {
    deps.management_actor: "management",
    reporting_actor: "reporting",
}
# Routes any of the publisher's keys may call whatever its scopes, and why. A new route that
# takes an API key must require a scope or be added here on purpose.
ANY_PUBLISHER_KEY = {
    "/api/v1/billing/summary": "the publisher's own bill, for any of its integrations",
    "/api/v1/billing/invoices": "the same",
    "/api/v1/billing/invoices/{invoice_id}": "the same",
    "/api/v1/billing/invoices/{invoice_id}/html": "the same",
    "/api/v1/billing/invoices/{invoice_id}/pdf": "the same",
    "/api/v1/billing/reconciliation": "the same",
    "/api/v1/audit-log": "refused below the owner role, which no key has",
    "/api/v1/audit-log/export.csv": "the same",
}


@dataclass(frozen=True)
class KeyRoute:
    method: str
    path: str
    scope: str | None  # None: no scope, see ANY_PUBLISHER_KEY
    operator_only: bool


def _calls(dependant: Dependant) -> list[Callable[..., Any]]:
    found: list[Callable[..., Any]] = []
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.append(sub.call)
        found.extend(_calls(sub))
    return found


def key_routes() -> list[KeyRoute]:
    """Every route of every router in api/routes that resolves the caller from an API key."""
    found = []
    for info in pkgutil.iter_modules(route_modules.__path__):
        module = importlib.import_module(f"{route_modules.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            continue
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.path.startswith("/api/v1/"):
                continue
            calls = _calls(route.dependant)
            if deps.current_actor not in calls:
                continue
            scopes = {SCOPE_OF[c] for c in calls if c in SCOPE_OF}
            assert len(scopes) <= 1, route.path
            for method in sorted(route.methods or ()):
                found.append(
                    KeyRoute(
                        method,
                        route.path,
                        next(iter(scopes), None),
                        deps.operator_actor in calls,
                    )
                )
    return found


def test_the_walk_finds_the_app_s_key_routes(app: FastAPI) -> None:
    routes = key_routes()
    assert len(routes) >= 40
    served = set(app.openapi()["paths"])
    assert {r.path for r in routes} <= served  # they are the app's own routes
    assert {r.scope for r in routes} >= {"management", "reporting"}
    unlisted = [
        r.path
        for r in routes
        if r.scope is None and not r.operator_only
        if r.path not in ANY_PUBLISHER_KEY
    ]
    assert unlisted == [], "these routes take an API key but require no scope"


async def _key(tenant: Tenant, scopes: list[str], app_id: str | None = None) -> str:
    body: dict[str, Any] = {"name": f"scopes {' '.join(scopes)}", "scopes": scopes}
    if app_id:
        body["appId"] = app_id
    created = await tenant.create("/api/v1/api-keys", body)
    secret: str = created["key"]
    return secret


async def test_a_key_without_the_needed_scope_is_refused_everywhere(
    tenant: Tenant, own_ip_client: ClientFactory
) -> None:
    app_id = (await tenant.android_app())["id"]
    publisher_scopes = [s for s in API_KEY_SCOPES if s != "sdk"]
    without = {
        scope: await _key(tenant, [s for s in publisher_scopes if s != scope])
        for scope in publisher_scopes
    }
    every = await _key(tenant, publisher_scopes)
    sdk = await _key(tenant, ["sdk"], app_id)
    http = own_ip_client()

    async def call(route: KeyRoute, key: str) -> tuple[int, str]:
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)
        kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {key}"}}
        if route.method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = {}
        response = await http.request(route.method, url, **kwargs)
        message = response.json()["error"]["message"] if response.status_code >= 400 else ""
        return response.status_code, message

    checked = 0
    for route in key_routes():
        name = f"{route.method} {route.path}"
        status, _ = await call(route, sdk)
        assert status == 403, f"an sdk key reached {name}"
        if route.operator_only:
            status, _ = await call(route, every)
            assert status == 403, f"a publisher's key reached the operator's {name}"
        if route.scope is None:
            continue
        status, message = await call(route, without[route.scope])
        assert status == 403, f"a key without {route.scope!r} reached {name}: {status}"
        assert f"lacks the '{route.scope}' scope" in message, name
        status, message = await call(route, every)
        assert "scope" not in message, f"{name} refused a key with {route.scope!r}: {message}"
        checked += 1
    assert checked >= 35
