"""Tenant isolation over the whole OpenAPI document: publisher B can neither read nor change
publisher A's objects through any operation.

Every operation is classified, and one that fits no class fails the test, so a new route
cannot slip in untested:
- public ones (signup, login, health, signed links) are allow-listed, each with its reason;
- an operation with ids in its path is called by B, with its API key, with its console
  session, and with its session naming A's publisher (X-Publisher-Id), on A's objects: B gets
  404 or 403, and A's objects read the same afterwards;
- an operation without ids is called by B (a GET as it is; a change with a body listed here):
  nothing A owns may appear in the answer;
- operator-only operations must refuse B (403, or 404 for a publisher B is not in).
Finally A's objects, key list and audit log are compared with what they were before.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from apex_mediation.db.models import AuditLog
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.security.world import PATH_KINDS, PUBLIC_OPERATIONS, make_objects

# Bodies for B's attempts on A's objects. Each is valid, so that a refusal can only come from
# the object belonging to someone else (a 400 would hide a missing tenant check).
OBJECT_BODIES: dict[str, dict[str, Any]] = {
    "PATCH /api/v1/apps/{app_id}": {"name": "hijacked"},
    "PUT /api/v1/placements/{placement_id}": {"name": "hijacked", "config": {}},
    "PATCH /api/v1/network-accounts/{account_id}": {
        "name": "hijacked",
        "credentials": {"app_id": "ca-app-pub-999~999"},
    },
}
# Changes without an id in the path. Each body names A's objects wherever the operation takes
# a reference, so that B acting through its own publisher still cannot reach them; `{kind}`
# is replaced by A's object of that kind.
COLLECTION_BODIES: dict[str, dict[str, Any] | None] = {
    "POST /api/v1/apps": {"name": "b", "platform": "android", "bundleId": "com.example.b"},
    "POST /api/v1/placements": {"name": "b", "appId": "{app}", "format": "banner"},
    "POST /api/v1/network-accounts": {
        "network": "admob",
        "name": "b",
        "credentials": {"app_id": "ca-app-pub-1~2"},
    },
    "POST /api/v1/api-keys": {"name": "b", "scopes": ["sdk"], "appId": "{app}"},
    "POST /api/v1/billing/payment-method": None,
    "POST /api/v1/billing/portal": None,
    "POST /api/v1/billing/network-revenue": {
        "rows": [{"day": "2026-01-01", "network": "admob", "revenueMicros": 1, "appId": "{app}"}]
    },
    "POST /api/v1/billing/network-revenue/csv": None,
    "POST /api/v1/privacy/exports": None,
    "POST /api/v1/privacy/erasure": {"password": "not B's password"},
    "POST /api/v1/privacy/device-erasures": {"advertisingId": str(uuid.uuid4())},
}
# Only platform operators: B, a publisher's owner, is refused.
OPERATOR_ONLY: dict[str, dict[str, Any]] = {
    "POST /api/v1/billing/reconcile": {
        "startDate": "2026-01-01",
        "endDate": "2026-01-02",
        "publisherId": "{publisher}",
    },
    "POST /api/v1/privacy/operator/device-erasures": {"advertisingId": str(uuid.uuid4())},
}
# Operations on the caller's own user (its password, its second factor, its sessions): they
# take no publisher and no object id, so B can only ever act on B. B calls them with wrong
# credentials; A's state is compared afterwards like everything else.
OWN_USER: dict[str, dict[str, Any] | None] = {
    "GET /api/v1/account/security": None,
    "POST /api/v1/account/password": {
        "currentPassword": "wrong password 1",
        "newPassword": "another long password 2",
    },
    "POST /api/v1/account/two-factor/enrolment": None,
    "POST /api/v1/account/two-factor/confirm": {"code": "000000"},
    "POST /api/v1/account/two-factor/disable": {"password": "wrong password 1", "code": "000000"},
    "POST /api/v1/account/two-factor/recovery-codes": {
        "password": "wrong password 1",
        "code": "000000",
    },
}


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value)
    for kind, object_id in names.items():
        text = text.replace("{" + kind + "}", object_id)
    return json.loads(text)


def _path(path: str, objects: dict[str, str]) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: objects[PATH_KINDS[m.group(1)]], path)


def _leaks(response: httpx.Response, secrets: list[str], sent: str) -> list[str]:
    """A's values in B's answer, except those B sent itself (an error may name the id it was
    given without revealing anything)."""
    text = response.content.decode("utf-8", "replace")
    return [value for value in secrets if value in text and value not in sent]


async def _state(tenant: Tenant, app: FastAPI, services: Services) -> dict[str, Any]:
    """What A can read of its own objects: every object GET, the key list, the log's size."""
    objects = tenant.ids
    state: dict[str, Any] = {}
    for method, path, _ in _operations(app):
        if method != "GET" or "{" not in path or f"GET {path}" in PUBLIC_OPERATIONS:
            continue
        response = await tenant.session_call("GET", _path(path, objects))
        is_json = response.headers.get("content-type", "").startswith("application/json")
        state[path] = (response.status_code, response.json() if is_json else None)
    state["keys"] = (await tenant.session_call("GET", "/api/v1/api-keys")).json()
    async with services.postgres.session() as session:
        state["audit"] = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.publisher_id == uuid.UUID(tenant.publisher_id))
        )
    return state


@pytest.fixture
async def victim(tenant: Tenant, services: Services) -> Tenant:
    tenant.ids = await make_objects(tenant, services)
    return tenant


async def test_public_allow_list_is_current(app: FastAPI) -> None:
    labels = {f"{method} {path}" for method, path, _ in _operations(app)}
    stale = set(PUBLIC_OPERATIONS) - labels
    assert not stale, f"allow-listed operations that no longer exist: {stale}"


async def test_publisher_b_cannot_reach_publisher_a(
    app: FastAPI,
    victim: Tenant,
    other_tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    a, b = victim, other_tenant
    names = {**a.ids, "publisher": a.publisher_id}
    # Everything that identifies A or its objects; none may reach B.
    secrets = [a.publisher_id, a.email, *a.ids.values()]
    before = await _state(a, app, services)
    untested: list[str] = []
    failures: list[str] = []
    exercised = 0
    for method, path, operation in _operations(app):
        label = f"{method} {path}"
        if label in PUBLIC_OPERATIONS:
            continue
        params = re.findall(r"\{([a-z_]+)\}", path)
        if params:
            unknown = [p for p in params if p not in PATH_KINDS]
            if unknown:
                untested.append(f"{label}: path parameter {unknown} has no object in world.py")
                continue
            if "requestBody" in operation and label not in OBJECT_BODIES:
                untested.append(f"{label}: add a valid body to OBJECT_BODIES")
                continue
            body = OBJECT_BODIES.get(label)
            url = _path(path, a.ids)
            allowed = {403, 404}
        elif label in OPERATOR_ONLY:
            body, url, allowed = _fill(OPERATOR_ONLY[label], names), path, {403, 404}
        elif label in OWN_USER or label in COLLECTION_BODIES or method == "GET":
            body = OWN_USER.get(label) or COLLECTION_BODIES.get(label)
            body = _fill(body, names) if body is not None else None
            url, allowed = path, set()  # any answer, as long as nothing of A's is in it
        else:
            untested.append(f"{label}: a change without an id: add it to COLLECTION_BODIES")
            continue
        sent = url + json.dumps(body)
        for caller, headers in (
            (b.call, {}),
            (b.session_call, {}),
            # B's session naming A's publisher: refused before any route work.
            (b.session_call, {"X-Publisher-Id": a.publisher_id}),
        ):
            response = await caller(method, url, json=body, headers=headers)
            exercised += 1
            if allowed and response.status_code not in allowed:
                failures.append(f"{label}: B got {response.status_code}: {response.text[:200]}")
            leaked = _leaks(response, secrets, sent)
            if leaked:
                failures.append(f"{label}: B's answer holds A's {leaked}")
    assert not untested, "operations this test cannot exercise yet:\n" + "\n".join(untested)
    assert not failures, "\n".join(failures)
    assert exercised >= 3 * 45
    assert await _state(a, app, services) == before
