"""Security headers on every response: API, console, SDK, probes, 404s and errors, the ones a
route set itself kept, and Strict-Transport-Security only over HTTPS."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from apex_mediation.observability.security_headers import API_CSP, SecurityHeadersMiddleware
from tests.helpers import Tenant
from tests.security.conftest import BuildApp, client_of

CONSOLE_MARK = "script-src 'self'"


def assert_secured(response: httpx.Response, csp: str | None = API_CSP) -> None:
    headers = response.headers
    policy = headers["content-security-policy"]
    if csp is not None:
        assert policy == csp
    assert "unsafe-inline" not in _directive(policy, "script-src")
    assert "unsafe-eval" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in policy
    assert headers["referrer-policy"] in (
        "no-referrer",
        "same-origin",
        "strict-origin-when-cross-origin",
    )
    assert "strict-transport-security" not in headers  # plain HTTP


def _directive(policy: str, name: str) -> str:
    for directive in policy.split(";"):
        if directive.strip().startswith(name + " "):
            return directive.strip()
    return ""


async def test_api_responses(app: FastAPI, tenant: Tenant) -> None:
    async with client_of(app) as http:
        listed = await http.get("/api/v1/apps", headers=tenant.auth)
        assert listed.status_code == 200
        assert_secured(listed)
        invalid = await http.post("/api/v1/apps", headers=tenant.auth, json={"name": 1})
        assert invalid.status_code == 400
        assert_secured(invalid)
        assert_secured(await http.get("/api/v1/apps"))  # 401


async def test_console_keeps_its_own_stricter_policy(app: FastAPI) -> None:
    async with client_of(app) as http:
        page = await http.get("/login")
    assert page.status_code == 200
    assert_secured(page, csp=None)
    assert CONSOLE_MARK in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"


async def test_sdk_and_beacon_responses(app: FastAPI) -> None:
    async with client_of(app) as http:
        refused = await http.post("/v1/auction", json={}, headers={"X-Api-Key": "nope"})
        assert refused.status_code == 401
        assert_secured(refused)
        assert_secured(await http.get("/v1/config/keys"))
        beacon = await http.get("/t/imp?token=forged")
        assert beacon.status_code == 400
        assert_secured(beacon)


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
async def test_probes(app: FastAPI, path: str) -> None:
    async with client_of(app) as http:
        response = await http.get(path)
    assert response.status_code == 200
    assert_secured(response)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("GET", "/api/v1/no-such-thing", 404),
        ("DELETE", "/health", 405),
        ("GET", "/static/no-such-file.css", 404),
    ],
)
async def test_not_found_and_not_allowed(app: FastAPI, method: str, path: str, status: int) -> None:
    async with client_of(app) as http:
        response = await http.request(method, path)
    assert response.status_code == status
    assert_secured(response)


async def test_the_api_docs_run_no_inline_script_but_their_own(app: FastAPI) -> None:
    async with client_of(app) as http:
        docs = await http.get("/docs")
    assert docs.status_code == 200
    assert_secured(docs, csp=None)
    assert "'sha256-" in _directive(docs.headers["content-security-policy"], "script-src")


async def test_hsts_only_over_https(app: FastAPI) -> None:
    async with client_of(app, base_url="https://testserver") as http:
        secure = await http.get("/health")
    assert secure.headers["strict-transport-security"].startswith("max-age=")
    async with client_of(app) as http:
        plain = await http.get("/health")
        # An untrusted X-Forwarded-Proto proves nothing.
        claimed = await http.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in plain.headers
    assert "strict-transport-security" not in claimed.headers


async def test_hsts_from_a_trusted_proxy(build_app: BuildApp) -> None:
    app = await build_app(trust_proxy_headers=True)
    async with client_of(app) as http:
        proxied = await http.get("/health", headers={"X-Forwarded-Proto": "https"})
        plain = await http.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert "max-age=" in proxied.headers["strict-transport-security"]
    assert "strict-transport-security" not in plain.headers


# -- faults, and policies a route sets ------------------------------------------------------


async def test_an_unhandled_fault_is_a_500_with_the_headers_and_is_still_raised(
    build_app: BuildApp,
) -> None:
    app = await build_app()

    async def boom() -> None:
        raise RuntimeError("a fault")

    app.add_api_route("/api/v1/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": 1000,
        "name": "INTERNAL_ERROR",
        "message": "internal server error",
    }
    assert_secured(response)
    async with client_of(app) as http:  # the server still sees the fault, to log it
        with pytest.raises(RuntimeError, match="a fault"):
            await http.get("/api/v1/boom")


async def _creative(request: Request) -> Response:
    return PlainTextResponse("ad", headers={"Content-Security-Policy": "sandbox allow-scripts"})


async def _document(request: Request) -> Response:
    policy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return PlainTextResponse("invoice", headers={"Content-Security-Policy": policy})


async def test_a_policy_the_route_set_is_kept() -> None:
    routes = [Route("/creative", _creative), Route("/document", _document)]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeadersMiddleware)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        creative = await http.get("/creative")
        document = await http.get("/document")
    assert creative.headers["content-security-policy"] == "sandbox allow-scripts"
    # Framed by the console's own placement test page only.
    assert creative.headers["x-frame-options"] == "SAMEORIGIN"
    assert creative.headers["x-content-type-options"] == "nosniff"
    assert document.headers["content-security-policy"].startswith("default-src 'none'; style-src")
    assert document.headers["x-frame-options"] == "DENY"
