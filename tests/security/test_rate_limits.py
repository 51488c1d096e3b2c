"""Rate limits per endpoint class: each refuses with 429, Retry-After and its surface's body
once its limit is reached, and counts per key, user, account or IP, never across them."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage
from pydantic import SecretStr

from apex_mediation.observability.security_headers import API_CSP
from apex_mediation.settings import Settings
from apex_mediation.stores.rate_limiter import (
    SWEEP_INTERVAL_S,
    Strategy,
    open_rate_limiter,
    parse_rates,
)
from tests.helpers import Tenant
from tests.sdk.test_mobile_auction import android_body
from tests.security.conftest import BuildApp, client_of

REDIS_URL = "redis://127.0.0.1:6379/0"
GENEROUS = "100000/minute"


def assert_api_429(response: httpx.Response, longest_s: int = 60) -> None:
    assert response.status_code == 429, response.text
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= longest_s
    error = response.json()["error"]
    assert (error["code"], error["name"]) == (5029, "RATE_LIMITED")
    assert error["details"]["retryAfter"] == wait
    # A refusal is a response like any other: the security headers are on it.
    assert response.headers["content-security-policy"] == API_CSP
    assert response.headers["x-content-type-options"] == "nosniff"


def assert_console_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["content-type"].startswith("text/html")
    assert "too many requests" in response.text
    # The console's own page, with the console's policy.
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_documented_reporting_limits_are_the_defaults() -> None:
    defaults = Settings.model_fields["rate_reporting_per_key"].default
    assert defaults == "100/minute;10000/day"


async def test_reporting_allows_exactly_100_a_minute_per_key(
    build_app: BuildApp, tenant: Tenant, other_tenant: Tenant
) -> None:
    app = await build_app(rate_api_per_ip=GENEROUS, rate_api_per_user=GENEROUS)
    async with client_of(app) as http:
        url = "/api/v1/reporting/overview"
        for n in range(100):
            response = await http.get(url, headers=tenant.auth)
            assert response.status_code == 200, (n, response.text)
        assert_api_429(await http.get(url, headers=tenant.auth))
        # Another key is counted apart; the management API is another class.
        assert (await http.get(url, headers=other_tenant.auth)).status_code == 200
        assert (await http.get("/api/v1/apps", headers=tenant.auth)).status_code == 200


async def test_the_reporting_day_quota_is_counted_per_key(
    build_app: BuildApp, tenant: Tenant, other_tenant: Tenant
) -> None:
    app = await build_app(rate_reporting_per_key="100/minute;3/day")
    async with client_of(app) as http:
        url = "/api/v1/reporting/realtime"
        for _ in range(3):
            assert (await http.get(url, headers=tenant.auth)).status_code == 200
        refused = await http.get(url, headers=tenant.auth)
        assert_api_429(refused, longest_s=86400)
        assert int(refused.headers["retry-after"]) > 3600  # the day's window, not the minute's
        assert (await http.get(url, headers=other_tenant.auth)).status_code == 200


async def test_management_api_is_limited_per_key(
    build_app: BuildApp, tenant: Tenant, other_tenant: Tenant
) -> None:
    app = await build_app(rate_api_per_user="5/minute", rate_api_per_ip=GENEROUS)
    async with client_of(app) as http:
        for _ in range(5):
            assert (await http.get("/api/v1/apps", headers=tenant.auth)).status_code == 200
        assert_api_429(await http.get("/api/v1/apps", headers=tenant.auth))
        assert (await http.get("/api/v1/apps", headers=other_tenant.auth)).status_code == 200


async def test_management_api_and_console_are_limited_per_session(
    build_app: BuildApp, tenant: Tenant, other_tenant: Tenant
) -> None:
    app = await build_app(rate_api_per_user="4/minute", rate_api_per_ip=GENEROUS)
    cookies = dict(tenant.http.cookies)
    async with client_of(app) as http:
        http.cookies.update(cookies)
        for _ in range(2):
            assert (await http.get("/api/v1/auth/me")).status_code == 200
            assert (await http.get("/dashboard")).status_code == 200
        assert_console_429(await http.get("/dashboard"))
        assert_api_429(await http.get("/api/v1/auth/me"))
    async with client_of(app) as http:
        http.cookies.update(dict(other_tenant.http.cookies))
        assert (await http.get("/dashboard")).status_code == 200


async def test_api_and_console_are_limited_per_ip(build_app: BuildApp) -> None:
    app = await build_app(rate_api_per_ip="5/minute")
    async with client_of(app, ip="198.51.100.1") as http:
        for _ in range(5):
            assert (await http.get("/api/v1/apps")).status_code == 401
        assert_api_429(await http.get("/api/v1/apps"))
        assert_console_429(await http.get("/login"))
    async with client_of(app, ip="198.51.100.2") as http:
        assert (await http.get("/api/v1/apps")).status_code == 401
        assert (await http.get("/login")).status_code == 200
        # Probes are never limited.
        for _ in range(10):
            assert (await http.get("/health")).status_code == 200


async def test_login_is_limited_per_ip(build_app: BuildApp) -> None:
    app = await build_app(rate_login_per_ip="3/minute", rate_login_per_account="100/minute")
    async with client_of(app, ip="198.51.100.10") as http:
        for _ in range(3):
            email = f"nobody-{secrets.token_hex(4)}@example.com"
            response = await http.post(
                "/api/v1/auth/login", json={"email": email, "password": "wrong password"}
            )
            assert response.status_code == 401, response.text
        assert_api_429(
            await http.post(
                "/api/v1/auth/login", json={"email": "x@example.com", "password": "wrong"}
            )
        )
    async with client_of(app, ip="198.51.100.11") as http:
        response = await http.post(
            "/api/v1/auth/login", json={"email": "x@example.com", "password": "wrong"}
        )
        assert response.status_code == 401


async def test_login_is_limited_per_account_email_across_ips(build_app: BuildApp) -> None:
    app = await build_app(rate_login_per_ip="100/minute", rate_login_per_account="2/minute")
    email = f"target-{secrets.token_hex(4)}@example.com"
    # The same account however it is spelled, from a new address each time, JSON or form.
    tries = [email, f"  {email.upper()} "]
    for n, spelled in enumerate(tries):
        async with client_of(app, ip=f"203.0.113.{n + 1}") as http:
            response = await http.post(
                "/api/v1/auth/login", json={"email": spelled, "password": "wrong"}
            )
            assert response.status_code == 401, response.text
    async with client_of(app, ip="203.0.113.50") as http:
        assert_api_429(
            await http.post("/api/v1/auth/login", json={"email": email, "password": "wrong"})
        )
        assert_console_429(await http.post("/login", data={"email": email, "password": "wrong"}))
        # Another account from the same address is still let in to try.
        other = f"other-{secrets.token_hex(4)}@example.com"
        response = await http.post("/api/v1/auth/login", json={"email": other, "password": "wrong"})
        assert response.status_code == 401


async def test_password_reset_is_limited_per_ip_and_account(build_app: BuildApp) -> None:
    # Every try counts for the address, the refused ones too: four, then the fifth is refused.
    app = await build_app(rate_login_per_ip="4/minute", rate_login_per_account="2/minute")
    email = f"reset-{secrets.token_hex(4)}@example.com"
    async with client_of(app, ip="192.0.2.1") as http:
        for _ in range(2):
            assert (await http.post("/password-reset", data={"email": email})).status_code == 200
        assert_console_429(await http.post("/password-reset", data={"email": email}))
        other = f"reset-{secrets.token_hex(4)}@example.com"
        assert (await http.post("/password-reset", data={"email": other})).status_code == 200
        assert_console_429(await http.post("/password-reset", data={"email": other}))
    async with client_of(app, ip="192.0.2.2") as http:
        fresh = f"reset-{secrets.token_hex(4)}@example.com"
        assert (await http.post("/password-reset", data={"email": fresh})).status_code == 200


async def _sdk_market(tenant: Tenant, app: FastAPI) -> tuple[str, str]:
    android = await tenant.android_app()
    key = await tenant.create(
        "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": android["id"]}
    )
    placement = await tenant.create(
        "/api/v1/placements",
        {"name": "inter", "appId": android["id"], "format": "interstitial", "config": {}},
    )
    await app.state.auction.snapshots.refresh()
    return str(key["key"]), str(placement["id"])


async def test_sdk_is_limited_per_ip_with_the_sdk_error_body(
    build_app: BuildApp, tenant: Tenant
) -> None:
    app = await build_app(sdk_rate_per_ip=3, sdk_rate_per_app=10_000)
    key, placement = await _sdk_market(tenant, app)
    headers = {"X-Api-Key": key}
    async with client_of(app, ip="100.64.0.1") as http:
        statuses = [
            (await http.post("/v1/auction", json=android_body(placement), headers=headers))
            for _ in range(8)
        ]
    limited = [r for r in statuses if r.status_code == 429]
    # Eight quick requests span at most two one-second windows: at most six pass.
    assert len(limited) >= 2
    assert all(r.status_code in (200, 204) for r in statuses if r.status_code != 429)
    assert limited[0].headers["retry-after"] == "1"
    assert limited[0].json() == {
        "error": {"code": 1001, "name": "INVALID_REQUEST", "message": "rate limit exceeded"}
    }
    async with client_of(app, ip="100.64.0.2") as http:
        response = await http.post("/v1/auction", json=android_body(placement), headers=headers)
        assert response.status_code in (200, 204)


async def test_sdk_is_limited_per_app_across_ips(build_app: BuildApp, tenant: Tenant) -> None:
    app = await build_app(sdk_rate_per_ip=10_000, sdk_rate_per_app=3)
    key, placement = await _sdk_market(tenant, app)
    statuses = []
    for n in range(8):
        async with client_of(app, ip=f"100.64.1.{n + 1}") as http:
            response = await http.post(
                "/v1/auction", json=android_body(placement), headers={"X-Api-Key": key}
            )
            statuses.append(response.status_code)
    assert statuses.count(429) >= 2, statuses


def test_sdk_defaults_are_sized_for_sdk_traffic() -> None:
    # Thousands a second per app, never the console's per-minute limits.
    assert Settings.model_fields["sdk_rate_per_app"].default == 5000
    assert Settings.model_fields["sdk_rate_per_ip"].default == 50


async def test_two_instances_on_one_redis_share_the_count(
    build_app: BuildApp, tenant: Tenant
) -> None:
    prefix = f"apex-rl-test-{secrets.token_hex(6)}"
    shared = {"redis_url": SecretStr(REDIS_URL), "rate_limit_prefix": prefix}
    first = await build_app(rate_api_per_user="4/minute", rate_api_per_ip=GENEROUS, **shared)
    second = await build_app(rate_api_per_user="4/minute", rate_api_per_ip=GENEROUS, **shared)
    async with client_of(first) as one, client_of(second) as two:
        for http in (one, two, one, two):
            assert (await http.get("/api/v1/apps", headers=tenant.auth)).status_code == 200
        assert_api_429(await two.get("/api/v1/apps", headers=tenant.auth))
        assert_api_429(await one.get("/api/v1/apps", headers=tenant.auth))
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = await client.keys(f"{prefix}*")
        assert keys, "the count is not in Redis"
        await client.delete(*keys)
    finally:
        await client.aclose()


async def test_a_memory_limiter_is_per_instance(build_app: BuildApp, tenant: Tenant) -> None:
    # The contrast to the Redis case: without REDIS_URL each process counts alone.
    first = await build_app(rate_api_per_user="2/minute", rate_api_per_ip=GENEROUS)
    second = await build_app(rate_api_per_user="2/minute", rate_api_per_ip=GENEROUS)
    async with client_of(first) as one, client_of(second) as two:
        for _ in range(2):
            assert (await one.get("/api/v1/apps", headers=tenant.auth)).status_code == 200
        assert_api_429(await one.get("/api/v1/apps", headers=tenant.auth))
        assert (await two.get("/api/v1/apps", headers=tenant.auth)).status_code == 200


@pytest.mark.parametrize(
    "name", ["APEX_RATE_API_PER_IP", "APEX_RATE_LOGIN_PER_ACCOUNT", "APEX_RATE_REPORTING_PER_KEY"]
)
def test_a_limit_that_is_not_a_rate_is_refused_at_start(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}[\\s\\S]*'lots' is not a rate"):
        Settings(**{name: "lots"})


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'["email", "x@example.com"]'),
        ("application/json", b"\xff\xfe"),
        ("multipart/form-data; boundary=nope", b"--other\r\ngarbage"),
        ("multipart/form-data", b"no boundary at all"),
        ("application/x-www-form-urlencoded", b"email=%ZZ&password"),
        ("text/plain", b"email=x@example.com"),
    ],
)
async def test_odd_login_bodies_are_a_4xx_and_still_counted(
    build_app: BuildApp, content_type: str, body: bytes
) -> None:
    app = await build_app(rate_login_per_ip="2/minute")
    async with client_of(app, ip="192.0.2.77") as http:
        for _ in range(2):
            response = await http.post(
                "/api/v1/auth/login", content=body, headers={"Content-Type": content_type}
            )
            assert 400 <= response.status_code < 500 and response.status_code != 429
        refused = await http.post(
            "/api/v1/auth/login", content=body, headers={"Content-Type": content_type}
        )
    assert_api_429(refused)


async def test_the_memory_storage_sweeps_once_a_second_not_per_request() -> None:
    limiter = open_rate_limiter(None, "unused")
    storage = limiter.storage
    assert isinstance(storage, MemoryStorage)
    rate = parse_rates("1/second")
    await limiter.retry_after(rate, "first", strategy=Strategy.FIXED)
    sweep = storage.timer
    for n in range(200):  # many clients within the second: no new sweep over every key
        await limiter.retry_after(rate, f"ip-{n}", strategy=Strategy.FIXED)
        await asyncio.sleep(0)
    assert storage.timer is sweep
    assert len(storage.expirations) == 201
    await asyncio.sleep(SWEEP_INTERVAL_S + 0.1)
    # The first request after the interval sweeps out the expired keys; counts stay right.
    assert await limiter.retry_after(rate, "later", strategy=Strategy.FIXED) is None
    assert await limiter.retry_after(rate, "later", strategy=Strategy.FIXED) == 1
    await asyncio.sleep(0.05)
    assert set(storage.expirations) == {k for k in storage.expirations if "later" in k}
