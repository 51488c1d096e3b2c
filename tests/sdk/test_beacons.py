"""Beacons: signed tokens, counted once, durable before the 2xx, nothing taken from outside the
token; clicks redirect only to the advertiser's own host."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.requests import Request

from apex_mediation.sdk import beacons
from apex_mediation.sdk.beacons import click_key, event_id
from apex_mediation.services import Services
from apex_mediation.tracking import dedupe
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body, ios_body


async def _drain(market: Market) -> None:
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()


async def _events(services: Services, auction_id: str) -> list[dict[str, object]]:
    return await services.analytics.query(
        "SELECT event, cpm_micros, network, format, test FROM events "
        "WHERE auction_id = {a:String} ORDER BY event",
        {"a": auction_id},
    )


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_impression_counts_once_with_the_price_from_the_token(
    market: Market, services: Services
) -> None:
    placement = await market.placement(
        bidding=[market.line("high"), market.line("euro")], auctionType="second_price"
    )
    body = (await market.post("/v1/auction", android_body(placement))).json()
    imp = _path(body["winner"]["tracking"]["imp"])
    async with market.make_client() as http:
        first = await http.get(imp + "&price=99&placement=forged")  # extras are ignored
        replay = await http.get(imp)
        posted = await http.post(imp)
    assert [r.status_code for r in (first, replay, posted)] == [204, 204, 204]
    await _drain(market)
    assert await _events(services, body["auction_id"]) == [
        {
            "event": "impression",
            "cpm_micros": 2_120_000,
            "network": "openrtb",
            "format": "interstitial",
            "test": 0,
        }
    ]


async def test_video_reward_and_unknown_events(market: Market, services: Services) -> None:
    placement = await market.placement("rewarded", bidding=[market.line("high")])
    body = (
        await market.post("/v1/auction", android_body(placement, ad_type="rewarded", test=True))
    ).json()
    tracking = body["winner"]["tracking"]
    async with market.make_client() as http:
        for name in ("start", "midpoint", "complete", "reward"):
            assert (await http.get(_path(tracking[name]))).status_code == 204
        token = parse_qs(urlsplit(tracking["imp"]).query)["token"][0]
        unknown = await http.get(f"/t/video/halfway?token={token}")
    assert unknown.status_code == 404
    await _drain(market)
    events = await _events(services, body["auction_id"])
    assert [e["event"] for e in events] == [
        "reward",
        "video_complete",
        "video_midpoint",
        "video_start",
    ]
    assert all(e["test"] == 1 and e["cpm_micros"] == 0 for e in events)


async def test_bad_tokens_are_refused_with_the_error_body(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    body = (await market.post("/v1/auction", android_body(placement))).json()
    token = parse_qs(urlsplit(body["winner"]["tracking"]["imp"]).query)["token"][0]
    payload, mac = token.split(".")
    # A payload changed in its middle (its tail may be zero bytes that "AA" leaves unchanged).
    tampered = payload[:8] + ("B" if payload[8] == "A" else "A") + payload[9:]
    async with market.make_client() as http:
        for bad in ("", "nonsense", payload + "." + mac[::-1], tampered + "." + mac):
            response = await http.get("/t/imp", params={"token": bad})
            assert response.status_code == 400
            assert response.json()["error"]["message"].startswith("token")


async def test_click_redirects_only_to_the_advertisers_host(
    market: Market, services: Services
) -> None:
    signer = market.app.state.auction.signer
    async with market.make_client() as http:
        for bid_id, url, domains, expected in (
            ("b1", "https://shop.advertiser.example/landing", "advertiser.example", 302),
            ("b2", "https://evil.example/phish", "advertiser.example", 204),
            ("b3", "javascript:alert(1)", "advertiser.example", 204),
        ):
            token = signer.sign(
                auction_id="clicks",
                bid_id=bid_id,
                app_id=market.app_id,
                placement_id=market.app_id,
                network="openrtb",
                price_micros=0,
                currency="USD",
                test=True,
            )
            await services.cache.set(
                click_key("clicks", bid_id), f"{url}\n{domains}".encode(), ttl_s=60
            )
            response = await http.get("/t/click", params={"token": token})
            assert response.status_code == expected, url
            if expected == 302:
                assert response.headers["location"] == url


async def test_ios_creative_url_serves_the_markup(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    body = (await market.post("/v1/auction", ios_body(placement))).json()
    async with market.make_client() as http:
        creative = await http.get(_path(body["creative_url"]))
        expired = await http.get("/v1/creative", params={"token": "x.y"})
    assert creative.status_code == 200
    assert "high demo ad" in creative.text
    assert "sandbox" in creative.headers["content-security-policy"]
    assert expired.status_code == 400


async def test_impression_counts_toward_the_frequency_cap(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")], fcapPerHour=1)
    body = (await market.post("/v1/auction", android_body(placement))).json()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=market.app), base_url="http://t"
    ) as http:
        assert (await http.get(_path(body["winner"]["tracking"]["imp"]))).status_code == 204
    assert (await market.post("/v1/auction", android_body(placement))).status_code == 204


async def test_an_impression_shows_in_realtime_within_five_seconds(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    body = (await market.post("/v1/auction", android_body(placement))).json()
    async with market.make_client() as http:
        assert (await http.get(_path(body["winner"]["tracking"]["imp"]))).status_code == 204
    deadline = time.monotonic() + 5  # no explicit drain: the shipper's own loop delivers
    realtime: dict[str, object] = {}
    while time.monotonic() < deadline:
        response = await market.tenant.call(
            "GET", "/api/v1/reporting/realtime", params={"placementId": placement}
        )
        realtime = response.json()
        if realtime.get("impressions") == 1:
            break
        await asyncio.sleep(0.2)
    assert realtime.get("impressions") == 1, realtime
    assert realtime.get("revenueMicros") == 3_000  # one impression at a $3.00 CPM


async def test_a_replay_after_a_restart_without_redis_counts_once(
    market: Market, services: Services
) -> None:
    """The in-process cache starts empty; at start the recent event ids are loaded back, so a
    token replayed after a restart is not counted again in the rollups."""
    placement = await market.placement(bidding=[market.line("high")])
    body = (await market.post("/v1/auction", android_body(placement))).json()
    imp = _path(body["winner"]["tracking"]["imp"])
    async with market.make_client() as http:
        assert (await http.get(imp)).status_code == 204
    await _drain(market)
    token = parse_qs(urlsplit(imp).query)["token"][0]
    key = dedupe.key(event_id(token, "impression"))
    await services.cache.delete(key)  # what a restart does to an in-process cache
    await market.app.state.auction.resume(services.analytics, services.cache)
    assert await services.cache.get(key) is not None
    async with market.make_client() as http:
        assert (await http.get(imp)).status_code == 204
    await _drain(market)
    [row] = await services.analytics.query(
        "SELECT sum(events) AS n FROM events_hourly WHERE placement_id = {p:UUID}"
        " AND event = 'impression'",
        {"p": placement},
    )
    assert row["n"] == 1


@pytest.mark.parametrize(
    ("query", "token"),
    [
        (b"token=abc.DEF-_1", "abc.DEF-_1"),  # the beacon URLs Apex mints: taken as is
        (b"token=abc&cb=123", "abc"),
        (b"cb=1&token=abc", "abc"),
        (b"token=a%2Eb", "a.b"),  # percent-encoded by some client: decoded
        (b"", ""),
        (b"tokens=abc", ""),
    ],
)
def test_the_token_is_read_from_the_query_string(query: bytes, token: str) -> None:
    request = Request({"type": "http", "query_string": query, "headers": []})
    assert beacons.token_of(request) == token
