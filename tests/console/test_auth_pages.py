"""Signup, login and logout through the console's forms; CSRF and the security headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
from fastapi.routing import APIRoute

from apex_mediation.console.rendering import CSP
from apex_mediation.console.routes import ROUTERS
from tests.console.conftest import ConsoleUser


async def test_pages_need_a_session(make_client: Callable[[], httpx.AsyncClient]) -> None:
    async with make_client() as http:
        response = await http.get("/dashboard")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/dashboard"
        login = await http.get("/login")
        assert login.status_code == 200
        assert login.headers["content-security-policy"] == CSP
        assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
        assert '<label for="email">' in login.text


async def test_signup_logs_in_and_logout_ends_the_session(console: ConsoleUser) -> None:
    dashboard = await console.http.get("/dashboard")
    assert dashboard.status_code == 200
    assert "Console Games" in dashboard.text
    assert "<script>" not in dashboard.text  # no inline script anywhere
    out = await console.post("/logout", {})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await console.http.get("/dashboard")).status_code == 303


async def test_login_with_a_wrong_password_says_so(
    console: ConsoleUser, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        wrong = await http.post("/login", data={"email": console.email, "password": "nope"})
        assert wrong.status_code == 401
        assert 'role="alert"' in wrong.text
        right = await http.post(
            "/login",
            data={"email": console.email, "password": console.password, "next": "//evil.example"},
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/dashboard"  # never an off-site redirect


async def test_a_post_without_the_csrf_token_is_refused(console: ConsoleUser) -> None:
    response = await console.http.post("/logout", data={})
    assert response.status_code == 403
    assert "reload the page" in response.text
    assert (await console.http.get("/dashboard")).status_code == 200  # still logged in


async def test_signup_errors_name_the_field(make_client: Callable[[], httpx.AsyncClient]) -> None:
    async with make_client() as http:
        short = await http.post(
            "/signup", data={"publisher_name": "X", "email": "a@example.com", "password": "short"}
        )
        assert short.status_code == 400
        assert "password" in short.text.lower()
        bad = await http.post(
            "/signup", data={"publisher_name": "X", "email": "nope", "password": "x" * 16}
        )
        assert bad.status_code == 400 and "email: not an address" in bad.text


async def test_dashboard_parts(console: ConsoleUser) -> None:
    charts = await console.http.get("/dashboard/charts.json?range=24h")
    assert charts.status_code == 200
    body = charts.json()
    assert len(body["series"]["labels"]) == 24
    assert body["networks"] == {"labels": [], "revenue": []}
    tile = await console.http.get("/dashboard/realtime")
    assert tile.status_code == 200 and 'data-testid="realtime-impressions"' in tile.text
    bad = await console.http.get("/dashboard?range=1y")
    assert bad.status_code == 400


# Forms used before there is a session to bind a token to; each is protected otherwise: a
# single-use emailed token in the URL, or nothing to gain by forging (a login as oneself).
WITHOUT_SESSION = {
    "/login",
    # The challenge token from the right password is the credential, like the password itself.
    "/login/second-step",
    "/signup",
    "/password-reset",
    "/password-reset/{token}",
    "/invitations/{token}/signup",
    # The signed token in the link is the credential (RFC 8058 one-click needs no session).
    "/notifications/unsubscribe",
}


async def test_every_console_state_change_needs_the_csrf_token(console: ConsoleUser) -> None:
    """Every POST route of the console, logged in, without the token: refused, nothing done."""
    posts = sorted(
        route.path
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    )
    assert len(posts) >= 25  # the enumeration found the console, not an empty list
    checked = []
    for path in posts:
        if path in WITHOUT_SESSION:
            continue
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        response = await console.http.post(url, data={"name": "x"})
        assert response.status_code == 403, (path, response.status_code)
        assert "reload the page" in response.text, path
        checked.append(path)
    assert "/settings/api-keys" in checked and "/placements/{placement_id}" in checked
    assert (await console.http.get("/dashboard")).status_code == 200  # still logged in
