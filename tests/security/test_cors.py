"""Cross-origin access: the publisher API answers the console's own origin only; the Web SDK's
auction answers the origins its apps allow, and nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from apex_mediation.api.cors import origin_of
from apex_mediation.settings import Settings
from tests.helpers import Tenant
from tests.security.conftest import BuildApp, client_of

FOREIGN = "https://evil.example"
WEB_ORIGIN = "https://news.example"


def _preflight(origin: str, method: str = "GET", headers: str = "Authorization") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_the_api_answers_a_preflight_from_the_console_origin(
    app: FastAPI, settings: Settings
) -> None:
    console = origin_of(settings.base_url)
    async with client_of(app) as http:
        response = await http.options(
            "/api/v1/placements", headers=_preflight(console, "PUT", "Authorization,Content-Type")
        )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == console
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "PUT" in response.headers["access-control-allow-methods"]


async def test_the_api_refuses_a_preflight_from_a_foreign_origin(app: FastAPI) -> None:
    async with client_of(app) as http:
        for path in ("/api/v1/placements", "/api/v1/reporting/overview", "/api/v1/auth/login"):
            response = await http.options(path, headers=_preflight(FOREIGN))
            assert response.status_code == 400, path
            assert "access-control-allow-origin" not in response.headers


async def test_a_foreign_page_cannot_read_an_api_answer(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    console = origin_of(settings.base_url)
    async with client_of(app) as http:
        foreign = await http.get("/api/v1/apps", headers={**tenant.auth, "Origin": FOREIGN})
        own = await http.get("/api/v1/apps", headers={**tenant.auth, "Origin": console})
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers
    assert own.headers["access-control-allow-origin"] == console


async def _web_app(tenant: Tenant, app: FastAPI) -> str:
    created = await tenant.create(
        "/api/v1/apps",
        {
            "name": "site",
            "platform": "web",
            "domain": "news.example",
            "allowedOrigins": [WEB_ORIGIN],
        },
    )
    await app.state.auction.snapshots.refresh()
    return str(created["id"])


async def test_the_web_sdk_answers_its_apps_origins_only(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    await _web_app(tenant, app)
    async with client_of(app) as http:
        allowed = await http.options("/auction", headers=_preflight(WEB_ORIGIN, "POST"))
        foreign = await http.options("/auction", headers=_preflight(FOREIGN, "POST"))
        # The console's origin is the API's, not an app's: the SDK edge does not answer it.
        console = await http.options(
            "/auction", headers=_preflight(origin_of(settings.base_url), "POST")
        )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == WEB_ORIGIN
    for refused in (foreign, console):
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers


async def test_the_web_auction_refuses_a_foreign_origin(app: FastAPI, tenant: Tenant) -> None:
    web_app_id = await _web_app(tenant, app)
    body = {
        "request": {"placement": "any", "adType": "banner"},
        "meta": {"appId": web_app_id, "publisherId": tenant.publisher_id},
    }
    async with client_of(app) as http:
        response = await http.post("/auction", json=body, headers={"Origin": FOREIGN})
    assert response.status_code == 403
    assert response.json()["error"]["name"] == "INVALID_APP_ID"
    assert "access-control-allow-origin" not in response.headers


async def test_the_ctv_endpoint_is_not_part_of_the_api_cors(
    app: FastAPI, settings: Settings
) -> None:
    async with client_of(app) as http:
        response = await http.options(
            "/api/v1/rtb/bid", headers=_preflight(origin_of(settings.base_url), "POST")
        )
    assert "access-control-allow-origin" not in response.headers


def test_the_console_origin_is_the_base_urls() -> None:
    assert origin_of("https://Apex.example.com/console/") == "https://apex.example.com"
    assert origin_of("http://127.0.0.1:8000") == "http://127.0.0.1:8000"


async def test_cors_follows_the_configured_public_url(build_app: BuildApp) -> None:
    app = await build_app(public_url="https://apex.example.com")
    async with client_of(app) as http:
        ok = await http.options("/api/v1/apps", headers=_preflight("https://apex.example.com"))
        old = await http.options("/api/v1/apps", headers=_preflight("http://127.0.0.1:8000"))
    assert ok.headers["access-control-allow-origin"] == "https://apex.example.com"
    assert old.status_code == 400
