"""The operator area: platform operators only; publishers searchable with drill-down; system
health from the real stores and the serving process."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser, log_in_operator


async def test_only_operators_enter(console: ConsoleUser) -> None:
    for url in ("/operator", "/operator/health"):
        response = await console.http.get(url)
        assert response.status_code == 403
        assert "platform operators" in response.text
    assert 'href="/operator"' not in (await console.http.get("/dashboard")).text


async def test_the_operator_finds_a_publisher_and_drills_down(
    console: ConsoleUser, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        await log_in_operator(http, services)
        listing = await http.get("/operator")
        assert listing.status_code == 200 and "Publishers" in listing.text
        found = await http.get("/operator", params={"q": console.email.upper()})
        assert console.email in found.text
        assert "1 publisher matching" in found.text
        none = await http.get("/operator", params={"q": "no-such-publisher-xyz"})
        assert "No publisher matches." in none.text
        link = found.text.split('href="/operator/publishers/', 1)[1].split('"', 1)[0]
        detail = await http.get(f"/operator/publishers/{link}")
        assert detail.status_code == 200
        assert console.email in detail.text and "owner" in detail.text
        assert "Revenue 7d" in detail.text
        missing = await http.get(f"/operator/publishers/{'0' * 8}-0000-0000-0000-{'0' * 12}")
        assert missing.status_code == 404


async def test_system_health_shows_the_stores_and_ingest(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        await log_in_operator(http, services)
        page = await http.get("/operator/health")
    assert page.status_code == 200
    for store in ("postgres", "clickhouse", "cache"):
        assert f"<td>{store}</td>" in page.text
    assert page.text.count(">ok</span>") >= 3
    assert 'data-testid="ingest-lag"' in page.text
