"""Signup, login, sessions, CSRF, roles and API key scopes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import select

from apex_mediation.db.models import AuditLog, ConsoleSession, User
from apex_mediation.services import Services
from tests.helpers import PASSWORD, Tenant


async def test_signup_hashes_the_password_with_argon2(tenant: Tenant, services: Services) -> None:
    async with services.postgres.session() as session:
        user = await session.scalar(select(User).where(User.email == tenant.email))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_signup_sets_a_secure_session_cookie(
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    async with make_client() as http:
        response = await http.post(
            "/api/v1/auth/signup",
            json={"email": "cookie@example.com", "password": PASSWORD, "publisherName": "C"},
        )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


async def test_duplicate_email_is_a_conflict(
    tenant: Tenant, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        response = await http.post(
            "/api/v1/auth/signup",
            json={"email": tenant.email.upper(), "password": PASSWORD, "publisherName": "again"},
        )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["fields"][0]["field"] == "email"


async def test_short_password_is_refused(make_client: Callable[[], httpx.AsyncClient]) -> None:
    async with make_client() as http:
        response = await http.post(
            "/api/v1/auth/signup",
            json={"email": "short@example.com", "password": "short", "publisherName": "S"},
        )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["message"]


async def test_login_rotates_the_session_and_logout_ends_it(
    tenant: Tenant, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        response = await http.post(
            "/api/v1/auth/login", json={"email": tenant.email, "password": PASSWORD}
        )
        assert response.status_code == 200
        me = await http.get("/api/v1/auth/me")
        assert me.json()["email"] == tenant.email
        first_cookie = http.cookies.get("apex_session")
        await http.post("/api/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
        assert http.cookies.get("apex_session") != first_cookie
        out = await http.post("/api/v1/auth/logout")
        assert out.status_code == 204
        http.cookies.set("apex_session", first_cookie or "")
        assert (await http.get("/api/v1/auth/me")).status_code == 401


async def test_failed_login_is_401_and_audited(
    tenant: Tenant, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        response = await http.post(
            "/api/v1/auth/login", json={"email": tenant.email, "password": "wrong password!!"}
        )
        unknown = await http.post(
            "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever12345"}
        )
    assert response.status_code == 401
    assert unknown.status_code == 401
    assert response.json()["error"]["message"] == unknown.json()["error"]["message"]
    async with services.postgres.session() as session:
        user = await session.scalar(select(User).where(User.email == tenant.email))
        assert user is not None
        actions = list(
            await session.scalars(select(AuditLog.action).where(AuditLog.actor_id == str(user.id)))
        )
    assert "auth.login_failed" in actions


async def test_unsafe_requests_with_a_cookie_need_the_csrf_token(tenant: Tenant) -> None:
    body = {"name": "g", "platform": "ios", "bundleId": "com.example.g"}
    without = await tenant.http.post("/api/v1/apps", json=body)
    assert without.status_code == 403
    assert "CSRF" in without.json()["error"]["message"]
    wrong = await tenant.http.post("/api/v1/apps", json=body, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    right = await tenant.session_call("POST", "/api/v1/apps", json=body)
    assert right.status_code == 201


async def test_no_credentials_is_401(make_client: Callable[[], httpx.AsyncClient]) -> None:
    async with make_client() as http:
        response = await http.get("/api/v1/apps")
        bad = await http.get("/api/v1/apps", headers={"Authorization": "Bearer apx_srv_nope"})
        basic = await http.get("/api/v1/apps", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert bad.status_code == 401
    assert basic.status_code == 401
    assert response.json()["error"]["name"] == "UNAUTHORIZED"


async def test_reporting_key_cannot_manage(tenant: Tenant) -> None:
    key = await tenant.create("/api/v1/api-keys", {"name": "r", "scopes": ["reporting"]})
    response = await tenant.http.get(
        "/api/v1/apps", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert response.status_code == 403
    assert "management" in response.json()["error"]["message"]


async def test_sdk_key_cannot_call_the_publisher_api(tenant: Tenant) -> None:
    app = await tenant.android_app()
    key = await tenant.create(
        "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": app["id"]}
    )
    assert key["key"].startswith("apx_sdk_")
    response = await tenant.http.get(
        "/api/v1/apps", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert response.status_code == 403


async def test_read_only_member_cannot_change_anything(
    tenant: Tenant, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    from apex_mediation.accounts.passwords import hash_password
    from apex_mediation.db.models import Membership

    async with services.postgres.session() as session:
        user = User(
            email=f"ro-{tenant.publisher_id[:8]}@example.com", password_hash=hash_password(PASSWORD)
        )
        session.add(user)
        await session.flush()
        session.add(Membership(user_id=user.id, publisher_id=tenant.publisher_id, role="read_only"))
        await session.commit()
        email = user.email
    async with make_client() as http:
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        csrf = login.json()["csrfToken"]
        listed = await http.get("/api/v1/apps")
        created = await http.post(
            "/api/v1/apps",
            headers={"X-CSRF-Token": csrf},
            json={"name": "g", "platform": "ios", "bundleId": "com.example.g"},
        )
    assert listed.status_code == 200
    assert created.status_code == 403
    assert "member role" in created.json()["error"]["message"]


async def test_sessions_are_stored_hashed(tenant: Tenant, services: Services) -> None:
    token = tenant.http.cookies.get("apex_session")
    assert token
    async with services.postgres.session() as session:
        stored = list(await session.scalars(select(ConsoleSession.token_hash)))
    assert token not in stored
