"""`/api/v1/audit-log`: owners read and export their publisher's log, nobody else does."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select

from apex_mediation.accounts import invitations
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import AuditLog
from apex_mediation.services import Services
from tests.helpers import Tenant

URL = "/api/v1/audit-log"
MEMBER_PASSWORD = "member-password-" + "k3y9" * 3


async def join(services: Services, http: httpx.AsyncClient, tenant: Tenant, role: str) -> None:
    """A new user with `role` in the tenant's publisher, logged in on `http`."""
    email = f"member-{secrets.token_hex(4)}@example.com"
    owner = Actor.system(uuid.UUID(tenant.publisher_id))
    async with services.postgres.session() as session:
        issued = await invitations.invite(session, owner, email=email, role=role)
        await invitations.accept_with_signup(session, issued.token, MEMBER_PASSWORD)
        await session.commit()
    logged_in = await http.post(
        "/api/v1/auth/login", json={"email": email, "password": MEMBER_PASSWORD}
    )
    assert logged_in.status_code == 200, logged_in.text
    http.headers["X-CSRF-Token"] = logged_in.json()["csrfToken"]


@pytest.fixture
async def made(tenant: Tenant) -> AsyncIterator[dict[str, str]]:
    """An app created and deleted and a key issued: three entries in the tenant's log."""
    app = await tenant.android_app()
    assert (await tenant.call("DELETE", f"/api/v1/apps/{app['id']}")).status_code == 204
    yield {"app": app["id"]}


async def test_owner_reads_the_log_newest_first(tenant: Tenant, made: dict[str, str]) -> None:
    response = await tenant.session_call("GET", URL)
    assert response.status_code == 200, response.text
    body = response.json()
    actions = [entry["action"] for entry in body["data"]]
    assert actions[:2] == ["app.deleted", "app.created"]
    assert "api_key.created" in actions and "publisher.created" in actions
    deleted = body["data"][0]
    assert deleted["objectType"] == "app" and deleted["objectId"] == made["app"]
    assert deleted["actorType"] == "api_key"
    assert deleted["actor"].startswith("API key tests (")
    created_key = next(e for e in body["data"] if e["action"] == "api_key.created")
    assert created_key["actor"] == tenant.email
    assert created_key["ipPrefix"] is None or created_key["ipPrefix"].endswith(("/24", "/48"))
    # Digests are hashes for tamper evidence, not values: they are never shown.
    assert not any("digest" in key.lower() for entry in body["data"] for key in entry)
    assert body["pagination"]["total"] == len(body["data"])


async def test_filters_and_pagination(tenant: Tenant, made: dict[str, str]) -> None:
    family = (await tenant.session_call("GET", URL, params={"action": "app"})).json()
    assert [e["action"] for e in family["data"]] == ["app.deleted", "app.created"]
    exact = (await tenant.session_call("GET", URL, params={"action": "app.created"})).json()
    assert [e["action"] for e in exact["data"]] == ["app.created"]
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = today + dt.timedelta(days=1)
    future = await tenant.session_call("GET", URL, params={"startDate": tomorrow.isoformat()})
    assert future.json()["data"] == []
    for edge in ({"startDate": "0001-01-01"}, {"endDate": "9999-12-31"}):
        whole = await tenant.session_call("GET", URL, params=edge)
        assert whole.status_code == 200 and len(whole.json()["data"]) >= 3, edge
    past = await tenant.session_call(
        "GET", URL, params={"startDate": "2020-01-01", "endDate": today.isoformat()}
    )
    assert len(past.json()["data"]) >= 3
    first = (await tenant.session_call("GET", URL, params={"pageSize": 1})).json()
    second = (await tenant.session_call("GET", URL, params={"pageSize": 1, "page": 2})).json()
    assert first["pagination"]["totalPages"] == first["pagination"]["total"] >= 3
    assert first["data"][0]["id"] != second["data"][0]["id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"startDate": "2026-02-30"}, "startDate"),
        ({"startDate": "2026-03-02", "endDate": "2026-03-01"}, "endDate"),
        ({"action": "DROP TABLE"}, "action"),
        ({"pageSize": "0"}, "pageSize"),
    ],
)
async def test_bad_filters_are_400_naming_the_field(
    tenant: Tenant, params: dict[str, str], field: str
) -> None:
    response = await tenant.session_call("GET", URL, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith(field)


async def test_csv_export(tenant: Tenant, made: dict[str, str]) -> None:
    response = await tenant.session_call(
        "GET", f"{URL}/export.csv", params={"action": "app", "startDate": "2020-01-01"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["action"] for row in rows] == ["app.deleted", "app.created"]
    assert rows[0]["objectId"] == made["app"]
    assert "digest" not in response.text.lower()


async def test_only_owners_read_it(
    tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    for role in ("admin", "member", "read_only"):
        async with make_client() as member:
            await join(services, member, tenant, role)
            for path in (URL, f"{URL}/export.csv"):
                response = await member.get(path)
                assert response.status_code == 403, (role, path, response.text)
    # A key acts as an admin at most: even a management key cannot read the log.
    assert (await tenant.call("GET", URL)).status_code == 403
    assert (await tenant.call("GET", f"{URL}/export.csv")).status_code == 403
    async with make_client() as anonymous:
        assert (await anonymous.get(URL)).status_code == 401


async def test_another_publishers_entries_are_never_shown(
    tenant: Tenant, other_tenant: Tenant, services: Services, made: dict[str, str]
) -> None:
    theirs = (await other_tenant.session_call("GET", URL, params={"pageSize": 200})).json()
    async with services.postgres.session() as session:
        mine = set(
            await session.scalars(
                select(AuditLog.id).where(AuditLog.publisher_id == uuid.UUID(tenant.publisher_id))
            )
        )
    assert mine and not mine & {entry["id"] for entry in theirs["data"]}
    assert made["app"] not in {entry["objectId"] for entry in theirs["data"]}
    foreign = await other_tenant.session_call(
        "GET", URL, headers={"X-Publisher-Id": tenant.publisher_id}
    )
    assert foreign.status_code == 404


@pytest.mark.parametrize("value", ["-1.1e-38", "0", "1767225600", "2026-1-5", "2026-01-05T00:00"])
async def test_dates_are_iso_text_only(tenant: Tenant, value: str) -> None:
    """A number would otherwise be read as a Unix time."""
    response = await tenant.session_call("GET", URL, params={"endDate": value})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("endDate")
