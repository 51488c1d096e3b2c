"""`POST /v1/auction`: the Android/Unity and iOS wire formats from PROTOCOL.md §1-2."""

from __future__ import annotations

import uuid
from typing import Any

from tests.sdk.conftest import Market


def android_body(placement_id: str, **overrides: Any) -> dict[str, Any]:
    """The Android SDK's request, field for field as PROTOCOL.md §1 lists it."""
    body: dict[str, Any] = {
        "request_id": "req-123",
        "placement_id": placement_id,
        "ad_type": "interstitial",
        "floor_cpm": 0.5,
        "timeout_ms": 800,
        "auction_type": "header_bidding",
        "adapters": ["openrtb", "admob"],
        "metadata": {
            "gdpr_applies": "0",
            "us_privacy": "1YNN",
            "coppa": "0",
            "limit_ad_tracking": "0",
        },
        "device_info": {
            "os": "android",
            "os_version": "14",
            "make": "Google",
            "model": "Pixel 8",
            "screen_width": 1080,
            "screen_height": 2400,
            "language": "en",
            "timezone": "Europe/Berlin",
            "connection_type": "wifi",
            "ip": "203.0.113.7",
            "user_agent": "Dalvik/2.1.0",
        },
        "user_info": {
            "limit_ad_tracking": False,
            # One device per placement: each test is its own user, so the invalid-traffic
            # windows (requests per device) see the suite as many people, not one bot.
            "advertising_id": str(uuid.uuid5(uuid.NAMESPACE_URL, placement_id)),
        },
    }
    body.update(overrides)
    return body


def ios_body(placement_id: str) -> dict[str, Any]:
    return {
        "placementId": placement_id,
        "adType": "interstitial",
        "device": {
            "platform": "iOS",
            "osVersion": "17.4",
            "model": "iPhone15,2",
            "language": "en",
            "screenWidth": 1179,
            "screenHeight": 2556,
            "screenScale": 3.0,
            "attStatus": 3,
            "limitAdTracking": False,
            "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        },
        "app": {"bundleId": "com.example.game", "version": "1.2", "build": "120"},
        "consent": {"gdpr_applies": "0", "us_privacy": "1---"},
    }


async def test_android_fill_with_winner_and_ordered_fallbacks(market: Market) -> None:
    placement = await market.placement(
        bidding=[market.line("high"), market.line("euro"), market.line("never")],
        waterfall=[
            {
                "network": "admob",
                "priority": 0,
                "ecpmMicros": 2_500_000,
                "params": {"ad_unit_id": "ca-app-pub-3940256099942544/1033173712"},
            }
        ],
    )
    response = await market.post("/v1/auction", android_body(placement))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request_id"] == "req-123"
    assert body["no_fill"] is False
    winner = body["winner"]
    assert set(winner) >= {"bid_id", "adapter_name", "cpm", "currency", "creative_id", "ad_markup"}
    assert winner["adapter_name"] == "openrtb"
    assert winner["cpm"] == 3.0
    assert winner["currency"] == "USD"
    assert "high demo ad" in winner["ad_markup"]
    # Hybrid ranking: admob's 2.50 estimate sits between the 3.00 bid and the 2.11 EUR bid.
    fallbacks = [(f["adapter_name"], f["cpm"]) for f in body["fallbacks"]]
    assert fallbacks == [("admob", 2.5), ("openrtb", 2.11)]
    assert body["fallbacks"][0]["instance"]["params"]["ad_unit_id"].startswith("ca-app-pub")
    assert body["fallbacks"][0]["ad_markup"] is None
    assert winner["tracking"]["imp"].startswith("http")
    # iOS fields ride along in the same body.
    assert body["network_name"] == "openrtb" and body["ecpm"] == 3.0


async def test_ios_camel_case_body_on_the_same_path(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    response = await market.post("/v1/auction", ios_body(placement))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"ad_id", "network_name", "creative_url", "ecpm", "ttl", "metadata"}
    assert body["ecpm"] == 3.0
    assert isinstance(body["ttl"], int) and body["ttl"] > 0
    assert all(isinstance(v, str) for v in body["metadata"].values())
    sent = market.bidders.stats["high"].last_request
    assert sent is not None
    assert sent["device"]["ifa"] == "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    assert sent["app"]["bundle"] == "com.example.game"


async def test_no_fill_is_204_with_an_empty_body(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("never")])
    response = await market.post("/v1/auction", android_body(placement))
    assert response.status_code == 204
    assert response.content == b""


async def test_floor_from_client_only_raises(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("stubborn")], floorCpmMicros=1_000_000)
    low = await market.post("/v1/auction", android_body(placement, floor_cpm=0.1))
    assert low.status_code == 200
    sent = market.bidders.stats["stubborn"].last_request
    assert sent is not None and sent["imp"][0]["bidfloor"] == 1.0  # not lowered to 0.10
    high = await market.post("/v1/auction", android_body(placement, floor_cpm=5.0))
    sent = market.bidders.stats["stubborn"].last_request
    assert sent is not None and sent["imp"][0]["bidfloor"] == 5.0  # raised by the client
    assert high.status_code == 204  # the 3.00 bid is below the client's 5.00 floor


async def test_country_floor_from_the_trusted_geo_header(market: Market) -> None:
    placement = await market.placement(
        bidding=[market.line("stubborn")], countryFloors={"US": 4_000_000}
    )
    assert (
        await market.post("/v1/auction", android_body(placement), headers={"CF-IPCountry": "DE"})
    ).status_code == 200
    assert (
        await market.post("/v1/auction", android_body(placement), headers={"CF-IPCountry": "US"})
    ).status_code == 204


async def test_second_price_clears_at_runner_up_plus_a_cent(market: Market) -> None:
    placement = await market.placement(
        bidding=[market.line("high"), market.line("euro")], auctionType="second_price"
    )
    body = (await market.post("/v1/auction", android_body(placement))).json()
    assert body["winner"]["cpm"] == 2.12  # 2.11 (EUR 2.00) + 0.01


async def test_adapters_hint_narrows_but_never_adds(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    only_admob = await market.post("/v1/auction", android_body(placement, adapters=["admob"]))
    assert only_admob.status_code == 204


async def test_misbehaving_bidders_are_contained(market: Market) -> None:
    placement = await market.placement(
        timeoutMs=300,
        bidding=[market.line(n) for n in ("hang", "garbage", "huge", "broken", "yen", "euro")],
    )
    response = await market.post("/v1/auction?debug=1", android_body(placement), headers={})
    assert response.status_code == 200
    assert response.json()["winner"]["cpm"] == 2.11
