"""/health, /ready (every store checked for real, the failing one named), /metrics, /docs."""

from __future__ import annotations

import os
import re
import socket

import httpx

from apex_mediation.app import create_app
from apex_mediation.observability.logging import new_request_id
from apex_mediation.services import Services
from apex_mediation.stores.cache import open_cache
from tests.helpers import Tenant


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"postgres", "clickhouse", "cache"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ready_names_the_store_that_failed(services: Services) -> None:
    # A real Redis client pointed at a port where nothing listens: a real failure, no mock.
    broken = Services(
        settings=services.settings,
        postgres=services.postgres,
        analytics=services.analytics,
        cache=open_cache(f"redis://127.0.0.1:{_closed_port()}/0"),
    )
    app = create_app(services=broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/ready")
    await broken.cache.close()
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]
    assert response.json()["checks"]["postgres"]["ok"] is True


async def test_metrics_per_route_template_and_customers_created(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    app = await tenant.android_app()
    await tenant.call("GET", f"/api/v1/apps/{app['id']}")
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/apps/{app_id}"' in text
    assert app["id"] not in text  # ids never become label values
    assert "http_request_duration_seconds_bucket" in text
    created = [line for line in text.splitlines() if line.startswith("customers_created_total ")]
    assert created and float(created[0].split()[1]) >= 1


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path/123")
    text = (await client.get("/metrics")).text
    assert 'route="(unmatched)"' in text
    assert "/no/such/path/123" not in text
    missing = await client.get("/no/such/path/123")
    assert missing.status_code == 404
    assert missing.json()["error"]["name"] == "NOT_FOUND"


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/placements" in spec["paths"]


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-Id": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    made = [(await client.get("/health")).headers["x-request-id"] for _ in range(3)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", made_id) for made_id in made)
    assert len(set(made)) == 3


def test_request_ids_differ_across_processes() -> None:
    """A forked worker draws a prefix of its own, so its ids cannot repeat the parent's."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write one id and leave at once
        os.write(writer, new_request_id().encode())
        os._exit(0)
    os.close(writer)
    child = os.read(reader, 64).decode()
    os.close(reader)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child[:16] != new_request_id()[:16]


async def test_ready_is_red_while_migrations_are_pending(
    services: Services, fresh_database: str
) -> None:
    from apex_mediation.stores.postgres import open_postgres

    unmigrated = await open_postgres(fresh_database, services.settings.postgres_dir, pool_size=1)
    app = create_app(
        services=Services(
            settings=services.settings,
            postgres=unmigrated,
            analytics=services.analytics,
            cache=services.cache,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/ready")
    await unmigrated.close()
    assert response.status_code == 503
    assert response.json()["failed"] == ["postgres"]
    assert "pending migrations" in response.json()["checks"]["postgres"]["detail"]


async def test_ready_names_a_missing_config_signing_key(services: Services) -> None:
    from apex_mediation.observability.health import readiness

    checks = {c.name: c for c in await readiness(services, "no config signing key")}
    assert checks["config_signing"].ok is False
    assert checks["config_signing"].detail == "no config signing key"
    assert all(c.ok for name, c in checks.items() if name != "config_signing")
