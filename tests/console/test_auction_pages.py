"""The auction inspector on real auctions: run through the SDK endpoint against local fake
bidders, looked up by request id and by auction id, candidates with their outcomes and loss
reasons, the receipt verified (and a forged one refused), and another publisher's auction 404."""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from apex_mediation.demo.bidders import DemoBidders
from apex_mediation.services import Services
from apex_mediation.tracking import receipts
from tests.helpers import Tenant
from tests.sdk.conftest import PROFILES, Market
from tests.sdk.test_mobile_auction import android_body

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
async def fake_bidders() -> AsyncIterator[DemoBidders]:
    server = DemoBidders(PROFILES)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def market(
    tenant: Tenant,
    app: FastAPI,
    fake_bidders: DemoBidders,
    make_client: Callable[[], httpx.AsyncClient],
) -> Market:
    """A publisher (whose client also holds its console session) with an app and an SDK key."""
    android = await tenant.android_app()
    key = await tenant.create(
        "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": android["id"]}
    )
    market = Market(tenant, app, fake_bidders, android["id"], key["key"], "", make_client)
    await market.refresh()
    return market


async def _auctions(market: Market, placement: str, count: int) -> list[tuple[str, str]]:
    """(request id, auction id) of `count` auctions, stored in ClickHouse when it returns."""
    done = []
    for _ in range(count):
        request_id = "req-" + secrets.token_hex(6)
        response = await market.post("/v1/auction", android_body(placement, request_id=request_id))
        assert response.status_code == 200, response.text
        done.append((request_id, response.json()["auction_id"]))
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()
    return done


async def _placement(market: Market) -> str:
    return await market.placement(
        bidding=[market.line("high"), market.line("euro"), market.line("never")],
        auctionType="second_price",
        floorCpmMicros=200_000,
    )


def _text(response: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.text))


async def test_look_up_an_auction_and_read_its_candidates(market: Market) -> None:
    placement = await _placement(market)
    (first_request, first), (second_request, second) = await _auctions(market, placement, 2)
    http = market.tenant.http

    recent = await http.get("/auctions")
    assert recent.status_code == 200
    assert recent.text.index(second) < recent.text.index(first)  # newest first
    assert "p-interstitial" in recent.text
    narrowed = await http.get(f"/auctions?placement={placement}")
    assert first in narrowed.text and second in narrowed.text

    by_request = await http.get(f"/auctions?q={second_request}")
    assert by_request.status_code == 303
    assert by_request.headers["location"] == f"/auctions/{second}"
    by_id = await http.get(f"/auctions?q={first}")
    assert by_id.status_code == 303 and by_id.headers["location"] == f"/auctions/{first}"
    missing = await http.get("/auctions?q=no-such-auction")
    assert missing.status_code == 404 and "no-such-auction" in _text(missing)

    page = await http.get(f"/auctions/{first}")
    assert page.status_code == 200, page.text
    text = _text(page)
    assert first_request in text and "p-interstitial" in text and "Game" in text
    assert "<dd>interstitial</dd>" in text and "second price" in text
    assert "<dt>Floor (CPM)</dt><dd>$0.50</dd>" in text  # the SDK's floor_cpm raised it
    assert "<dt>Clearing price (CPM)</dt><dd>$2.12</dd>" in text  # runner-up plus a cent
    assert 'openrtb <span class="muted">(bidding)</span>' in text

    rows = re.findall(r"<tr> <td class=\"num\">(.*?)</td> </tr>", text)
    assert len(rows) == 3, text
    winner, runner_up, no_bid = rows
    assert winner.startswith("1<") and ">won<" in winner and "$3.00" in winner
    assert "highest price" in winner
    assert runner_up.startswith("2<") and ">lost<" in runner_up and "$2.11" in runner_up
    assert "2.0 EUR" in runner_up or "2 EUR" in runner_up
    assert "lost to a higher bid" in runner_up
    assert no_bid.startswith("\N{EN DASH}<") and ">no bid<" in no_bid
    assert re.search(r"\d+ ms", winner)

    # The receipt: hash, previous hash, key id and the signed body.
    assert "<dt>Hash</dt>" in text and "<dt>Previous hash</dt>" in text
    assert receipts.GENESIS in text  # the placement's first receipt
    assert f'hx-get="/auctions/{first}/verify"' in page.text
    assert "Verify receipt" in text


async def test_verify_receipts_and_find_a_forged_one(market: Market, services: Services) -> None:
    placement = await _placement(market)
    (_, first), (_, second) = await _auctions(market, placement, 2)
    http = market.tenant.http

    fragment = await http.get(f"/auctions/{first}/verify", headers=HX)
    assert fragment.status_code == 200
    text = _text(fragment)
    assert "<html" not in text and "Verified" in text and "failed" not in text
    assert "the signature verifies with" in text and "genesis hash" in text

    linked = _text(await http.get(f"/auctions/{second}/verify", headers=HX))
    assert "Verified" in linked and "prevHash is the hash of receipt 1" in linked
    assert f'href="/auctions/{first}"' in linked

    full = await http.get(f"/auctions/{second}/verify")  # without JavaScript: the whole page
    assert full.status_code == 200 and "<html" in full.text and "Verified" in full.text

    # An altered receipt, its hash redone: the signature gives it away, and the next one's link.
    [row] = await services.analytics.query(
        "SELECT * FROM auction_receipts FINAL WHERE auction_id = {a:String}", {"a": first}
    )
    forged = json.loads(row["body"])
    forged["clearingPriceMicros"] = 1
    row["body"] = receipts.canonical(forged)
    row["hash"] = receipts.digest(row["body"])
    await services.analytics.insert("auction_receipts", [row])
    bad = _text(await http.get(f"/auctions/{first}/verify", headers=HX))
    assert "Does not verify" in bad and "signature does not verify" in bad
    broken = _text(await http.get(f"/auctions/{second}/verify", headers=HX))
    assert "Does not verify" in broken and "receipt 1 does not hold" in broken


async def test_another_publisher_sees_nothing(market: Market, other_tenant: Tenant) -> None:
    placement = await _placement(market)
    [(request_id, auction_id)] = await _auctions(market, placement, 1)
    theirs = other_tenant.http
    page = await theirs.get(f"/auctions/{auction_id}")
    assert page.status_code == 404 and "Not found" in page.text
    assert auction_id not in (await theirs.get("/auctions")).text
    assert (await theirs.get(f"/auctions?q={request_id}")).status_code == 404
    assert (await theirs.get(f"/auctions?q={auction_id}")).status_code == 404
    assert (await theirs.get(f"/auctions/{auction_id}/verify", headers=HX)).status_code == 404
    assert (await theirs.get(f"/auctions/{auction_id}/verify")).status_code == 404
    # and the owner still sees it
    assert (await market.tenant.http.get(f"/auctions/{auction_id}")).status_code == 200


async def test_bad_lookups(market: Market) -> None:
    http = market.tenant.http
    too_long = await http.get("/auctions", params={"q": "x" * 200})
    assert too_long.status_code == 400 and "auction or request id:" in too_long.text
    bad_placement = await http.get("/auctions?placement=nope")
    assert bad_placement.status_code == 400 and "placement:" in bad_placement.text
    bad_cursor = await http.get("/auctions?before=garbage")
    assert bad_cursor.status_code == 400 and "before:" in bad_cursor.text
    assert (await http.get("/auctions/" + "y" * 300)).status_code == 404
