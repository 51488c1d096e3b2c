"""Placements through the console's forms: create, edit (floors in exact micros, bidders,
waterfall order), validation errors kept as typed, roles, another publisher's ids, and the
"Test an ad" tool against local bidders down to the recorded impression."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from html import unescape
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.console.pages.apps import TEST_KEY_NAME
from apex_mediation.console.pages.placement_form import micros_to_usd, usd_to_micros
from apex_mediation.demo.bidders import BidderProfile, DemoBidders
from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser, sign_up
from tests.console.test_apps_pages import create_app, member, publisher_of

AD_UNIT = "ca-app-pub-1234567890123456/1111111111"
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
async def bidders() -> AsyncIterator[DemoBidders]:
    server = DemoBidders(
        [
            BidderProfile(
                "steady",
                bid_rate=1,
                price_median_cpm=3.0,
                price_sigma=0,
                latency_median_ms=5,
                latency_sigma=0,
                error_rate=0,
            ),
            BidderProfile("silent", bid_rate=0, latency_median_ms=2, latency_sigma=0, error_rate=0),
        ]
    )
    await server.start()
    yield server
    await server.stop()


async def create_placement(
    console: ConsoleUser, app_id: str, name: str = "Level end", fmt: str = "interstitial"
) -> str:
    response = await console.post(
        "/placements", {"app_id": app_id, "name": name, "format": fmt}, "/placements/new"
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(
        r"/placements/([0-9a-f-]{36})\?flash=created", response.headers["location"]
    )
    assert found, response.headers["location"]
    return found.group(1)


def edit(**fields: str) -> dict[str, str]:
    """The edit form's fields as a browser posts them (checkboxes only when ticked)."""
    base = {
        "name": "Level end",
        "format": "interstitial",
        "enabled": "on",
        "floor_usd": "",
        "timeout_ms": "800",
        "auction_type": "first_price",
    }
    return {**base, **fields}


async def save(console: ConsoleUser, placement_id: str, data: dict[str, str]) -> httpx.Response:
    return await console.post(f"/placements/{placement_id}", data, f"/placements/{placement_id}")


async def stored(console: ConsoleUser, placement_id: str) -> dict[str, Any]:
    response = await console.http.get(f"/api/v1/placements/{placement_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_list_and_filter(console: ConsoleUser) -> None:
    game = await create_app(console)
    site = await create_app(console, name="Site", platform="web", domain="s.example")
    placement = await create_placement(console, game)
    await create_placement(console, site, "Sidebar", "banner")
    page = await console.http.get(f"/placements/{placement}?flash=created")
    assert page.status_code == 200 and "Level end" in page.text and "Space Game" in page.text
    everything = (await console.http.get("/placements")).text
    assert "Level end" in everything and "Sidebar" in everything
    filtered = (await console.http.get(f"/placements?app_id={game}")).text
    assert "Level end" in filtered and "Sidebar" not in filtered
    assert f'<option value="{game}" selected>' in filtered
    on_app = (await console.http.get(f"/apps/{game}")).text
    assert f'href="/placements/{placement}"' in on_app
    # The snippet's example uses the app's first placement, with its format.
    assert f"&#34;placement_id&#34;: &#34;{placement}&#34;" in on_app
    missing = await console.post(
        "/placements", {"app_id": "", "name": "X", "format": "banner"}, "/placements/new"
    )
    assert missing.status_code == 400 and "app: choose one of your apps" in missing.text
    wrong = await console.post(
        "/placements", {"app_id": game, "name": "Typed", "format": "video"}, "/placements/new"
    )
    assert wrong.status_code == 400 and "format:" in wrong.text and 'value="Typed"' in wrong.text


def test_dollars_to_micros_exactly() -> None:
    assert usd_to_micros("1.10", "f") == 1_100_000
    assert usd_to_micros("$0.000001", "f") == 1
    assert usd_to_micros(" 2 ", "f") == 2_000_000
    assert usd_to_micros("", "f") is None
    assert usd_to_micros("0.29", "f") == 290_000  # a float would give 289999.99…
    for bad in ("1,10", "abc", "-1", "1.0000001", "NaN", "Infinity", "2000000"):
        with pytest.raises(InvalidInput) as refused:
            usd_to_micros(bad, "floor")
        assert refused.value.field == "floor"
    assert micros_to_usd(1_100_000) == "1.10"
    assert micros_to_usd(1_234_567) == "1.234567"
    assert micros_to_usd(10_000_000) == "10.00"
    assert micros_to_usd(0) == "0.00"


async def test_floors_are_saved_in_exact_micros(console: ConsoleUser) -> None:
    placement = await create_placement(console, await create_app(console))
    data = edit(
        floor_usd="1.10",
        timeout_ms="650",
        auction_type="second_price",
        refresh_interval_s="30",
        **{
            "cf-0-country": "us",
            "cf-0-usd": "2.5",
            "cf-1-country": "GB",
            "cf-1-usd": "0.000001",
            "cf-2-country": "",
            "cf-2-usd": "",
        },
    )
    response = await save(console, placement, data)
    assert response.status_code == 303, response.text
    config = (await stored(console, placement))["config"]
    assert config["floorCpmMicros"] == 1_100_000
    assert config["countryFloors"] == {"US": 2_500_000, "GB": 1}
    assert (config["timeoutMs"], config["auctionType"]) == (650, "second_price")
    assert config["refreshIntervalS"] == 30
    page = (await console.http.get(f"/placements/{placement}")).text
    assert 'name="floor_usd" inputmode="decimal" value="1.10"' in page
    assert 'value="GB"' in page and 'value="0.000001"' in page and 'value="2.50"' in page
    # Emptying a row removes that country's floor.
    del data["cf-1-country"], data["cf-1-usd"]
    assert (await save(console, placement, data)).status_code == 303
    assert (await stored(console, placement))["config"]["countryFloors"] == {"US": 2_500_000}


async def test_waterfall_order_is_the_order_on_screen(console: ConsoleUser) -> None:
    placement = await create_placement(console, await create_app(console))
    data = edit(
        **{
            "wf-n0-priority": "0",
            "wf-n0-network": "admob",
            "wf-n0-ecpm": "4.50",
            "wf-n0-p-ad_unit_id": AD_UNIT,
            "wf-n0-enabled": "on",
            "wf-n1-priority": "1",
            "wf-n1-network": "applovin",
            "wf-n1-ecpm": "",
            "wf-n1-p-zone_id": "zone1",
            "wf-n1-enabled": "on",
            "wf-n2-priority": "2",
            "wf-n2-network": "",
        }
    )
    assert (await save(console, placement, data)).status_code == 303
    lines = (await stored(console, placement))["config"]["waterfall"]
    assert [(w["network"], w["priority"], w["ecpmMicros"]) for w in lines] == [
        ("admob", 0, 4_500_000),
        ("applovin", 1, None),
    ]
    page = (await console.http.get(f"/placements/{placement}")).text
    assert page.index('name="wf-0-network"') < page.index('name="wf-1-network"')
    assert 'data-move="up"' in page and "data-sortable-item" in page and "data-priority" in page
    assert f'value="{AD_UNIT}"' in page
    # The arrows renumber the hidden priorities; the server saves in that order.
    moved = edit(
        **{
            "wf-0-priority": "1",
            "wf-0-network": "admob",
            "wf-0-ecpm": "4.50",
            "wf-0-p-ad_unit_id": AD_UNIT,
            "wf-0-enabled": "on",
            "wf-1-priority": "0",
            "wf-1-network": "applovin",
            "wf-1-p-zone_id": "zone1",
        }
    )
    assert (await save(console, placement, moved)).status_code == 303
    lines = (await stored(console, placement))["config"]["waterfall"]
    assert [(w["network"], w["priority"], w["enabled"]) for w in lines] == [
        ("applovin", 0, False),
        ("admob", 1, True),
    ]
    page = (await console.http.get(f"/placements/{placement}")).text
    assert page.index(">AppLovin</strong>") < page.index(">Google AdMob</strong>")
    # "Remove on save" drops a line.
    removed = {**moved, "wf-1-remove": "on"}
    assert (await save(console, placement, removed)).status_code == 303
    lines = (await stored(console, placement))["config"]["waterfall"]
    assert [w["network"] for w in lines] == ["admob"]


async def test_errors_name_the_field_and_keep_what_was_typed(console: ConsoleUser) -> None:
    placement = await create_placement(console, await create_app(console))
    floor = await save(console, placement, edit(name="Typed name", floor_usd="1,50"))
    assert floor.status_code == 400
    assert 'role="alert"' in floor.text and "floor CPM (USD): &#39;1,50&#39; is not" in floor.text
    assert 'value="1,50"' in floor.text and 'value="Typed name"' in floor.text
    country = await save(console, placement, edit(**{"cf-0-country": "USA", "cf-0-usd": "1"}))
    assert country.status_code == 400 and "country floors:" in country.text
    assert 'value="USA"' in country.text
    params = await save(
        console,
        placement,
        edit(
            **{
                "wf-n0-network": "admob",
                "wf-n0-ecpm": "2",
                "wf-n0-p-ad_unit_id": "not-a-unit",
                "wf-n0-enabled": "on",
            }
        ),
    )
    assert params.status_code == 400
    assert "waterfall line 1 (admob) params" in params.text and "ad_unit_id" in params.text
    assert 'value="not-a-unit"' in params.text
    bidder = await save(
        console, placement, edit(**{"bid-n0-network": "admob", "bid-n0-p-ad_unit_id": AD_UNIT})
    )
    assert bidder.status_code == 400 and "bidding line 1 (admob) network:" in bidder.text
    timeout = await save(console, placement, edit(timeout_ms="fast"))
    assert timeout.status_code == 400 and "timeout (ms):" in timeout.text
    slow = await save(console, placement, edit(timeout_ms="99999"))
    assert slow.status_code == 400 and "timeout (ms): Input should be less" in slow.text
    config = (await stored(console, placement))["config"]
    assert config["floorCpmMicros"] == 0 and config["waterfall"] == []


async def test_network_accounts_are_filtered_to_the_lines_network(console: ConsoleUser) -> None:
    placement = await create_placement(console, await create_app(console))
    csrf = {"X-CSRF-Token": await console.csrf()}
    made = {}
    for network, name, credentials in (
        ("applovin", "AppLovin main", {"sdk_key": "abcd1234"}),
        ("admob", "AdMob main", {}),
    ):
        response = await console.http.post(
            "/api/v1/network-accounts",
            json={"network": network, "name": name, "credentials": credentials},
            headers=csrf,
        )
        assert response.status_code == 201, response.text
        made[network] = response.json()["id"]
    fragment = await console.http.get(
        "/placements/line-fields?kind=wf&key=n3&wf-n3-network=applovin", headers=HX
    )
    assert fragment.status_code == 200
    assert "AppLovin main" in fragment.text and "AdMob main" not in fragment.text
    assert 'name="wf-n3-p-zone_id"' in fragment.text and "required" in fragment.text
    assert '<label for="wf-n3-account">' in fragment.text
    client_side = await console.http.get(
        "/placements/line-fields?kind=bid&key=n0&bid-n0-network=admob", headers=HX
    )
    assert "ad_unit_id" not in client_side.text  # admob cannot bid server-side
    wrong = await save(
        console,
        placement,
        edit(
            **{
                "wf-n0-network": "admob",
                "wf-n0-account": made["applovin"],
                "wf-n0-p-ad_unit_id": AD_UNIT,
            }
        ),
    )
    assert wrong.status_code == 400
    assert "waterfall line 1 (admob) network account: network account is for applovin" in wrong.text
    right = await save(
        console,
        placement,
        edit(
            **{
                "wf-n0-network": "admob",
                "wf-n0-account": made["admob"],
                "wf-n0-p-ad_unit_id": AD_UNIT,
            }
        ),
    )
    assert right.status_code == 303
    [line] = (await stored(console, placement))["config"]["waterfall"]
    assert line["networkAccountId"] == made["admob"]
    page = (await console.http.get(f"/placements/{placement}")).text
    assert f'<option value="{made["admob"]}" selected>AdMob main</option>' in page


async def test_read_only_and_other_publishers(
    console: ConsoleUser, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    placement = await create_placement(console, await create_app(console))
    async with member(services, make_client, await publisher_of(console), "read_only") as viewer:
        page = await viewer.http.get(f"/placements/{placement}")
        assert page.status_code == 200
        assert '<fieldset class="plain" disabled>' in page.text
        assert "Save placement" not in page.text and 'data-testid="test-ad"' not in page.text
        refused = await viewer.post(f"/placements/{placement}", edit(), f"/placements/{placement}")
        assert refused.status_code == 403
        tested = await viewer.post(f"/placements/{placement}/test", {}, f"/placements/{placement}")
        assert tested.status_code == 403
        assert (await viewer.http.get("/placements/new")).status_code == 403
    async with make_client() as http:
        other = await sign_up(http, "Other Studio")
        assert (await other.http.get(f"/placements/{placement}")).status_code == 404
        assert (await other.post(f"/placements/{placement}", edit())).status_code == 404
        assert (await other.post(f"/placements/{placement}/delete", {})).status_code == 404
        assert (await other.post(f"/placements/{placement}/test", {})).status_code == 404
        assert "Level end" not in (await other.http.get("/placements")).text
    assert (await console.http.get("/placements/nope")).status_code == 404


async def test_delete_placement(console: ConsoleUser) -> None:
    app_id = await create_app(console)
    placement = await create_placement(console, app_id)
    deleted = await console.post(f"/placements/{placement}/delete", {})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/placements?app_id={app_id}&flash=deleted"
    assert (await console.http.get(f"/placements/{placement}")).status_code == 404


async def test_an_ad_is_tested_through_the_sdk_endpoint_and_its_impression_recorded(
    console: ConsoleUser, app: FastAPI, services: Services, bidders: DemoBidders
) -> None:
    app_id = await create_app(console)
    placement = await create_placement(console, app_id)
    data = edit(
        floor_usd="0.50",
        **{
            "bid-n0-network": "openrtb",
            "bid-n0-p-endpoint": bidders.endpoint("steady"),
            "bid-n0-enabled": "on",
            "bid-n1-network": "openrtb",
            "bid-n1-p-endpoint": bidders.endpoint("silent"),
            "bid-n1-enabled": "on",
        },
    )
    assert (await save(console, placement, data)).status_code == 303
    csrf = {"X-CSRF-Token": await console.csrf(f"/placements/{placement}"), **HX}
    tested = await console.http.post(f"/placements/{placement}/test", headers=csrf)
    assert tested.status_code == 200, tested.text
    html = tested.text
    assert 'data-testid="winner-network">openrtb<' in html
    assert 'data-testid="winner-price">$3.00<' in html
    assert html.count("<tr>") == 3  # the header and both candidates, from the trace
    assert "no bid" in html and "ms</td>" in html
    frame = re.search(r'<iframe class="creative" sandbox="allow-scripts" src="([^"]+)"', html)
    assert frame and frame.group(1).startswith("/v1/creative?token=")
    # The creative is a document of its own, sandboxed by its own CSP, not the console's.
    creative = await console.http.get(frame.group(1).replace("&amp;", "&"))
    assert creative.status_code == 200
    assert creative.headers["content-security-policy"] == "sandbox allow-scripts allow-popups"
    shown = re.search(r"</summary>\s*<pre>(.*?)</pre>", html, re.S)
    assert shown and creative.text == unescape(shown.group(1))  # the winner's markup itself
    beacon = re.search(r'name="beacon" value="([^"]+)"', html)
    assert beacon and "/t/imp?token=" in beacon.group(1)
    # The test's own SDK key was revoked after use and never shown.
    keys = (await console.http.get(f"/apps/{app_id}")).text
    assert TEST_KEY_NAME not in keys and "apx_sdk_" not in html
    recorded = await console.http.post(
        f"/placements/{placement}/test/impression",
        data={"beacon": beacon.group(1).replace("&amp;", "&")},
        headers=csrf,
    )
    assert recorded.status_code == 200 and 'data-testid="impression-recorded"' in recorded.text
    runtime = app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()
    rows = await services.analytics.query(
        "SELECT event, network, cpm_micros, test FROM events WHERE placement_id = {p:UUID}",
        {"p": uuid.UUID(placement)},
    )
    assert rows == [
        {"event": "impression", "network": "openrtb", "cpm_micros": 3_000_000, "test": 1}
    ]
    forged = await console.http.post(
        f"/placements/{placement}/test/impression",
        data={"beacon": "http://elsewhere.example/t/imp?token=abc"},
        headers=csrf,
    )
    assert forged.status_code == 400 and "beacon:" in forged.text


async def test_an_unfilled_test_gets_the_test_creative(console: ConsoleUser) -> None:
    placement = await create_placement(console, await create_app(console), fmt="banner")
    page = await console.post(f"/placements/{placement}/test", {"country": "de"})
    assert page.status_code == 200  # without htmx: a whole page
    assert "<h1>Test an ad: Level end</h1>" in page.text
    assert 'data-testid="winner-network">apex_test<' in page.text
    assert "test creative (no bidder filled)" in page.text
    assert "Apex Mediation test ad" in page.text  # the markup, escaped into srcdoc
