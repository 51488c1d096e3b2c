"""`POST /auction` (Web, with CORS) and `POST /api/v1/rtb/bid` (CTV), PROTOCOL.md §3-4."""

from __future__ import annotations

from typing import Any

from tests.sdk.conftest import Market

ORIGIN = "https://news.example"


def web_body(market: Market, placement: str, **request: Any) -> dict[str, Any]:
    return {
        "request": {
            "placement": placement,
            "adType": "banner",
            "width": 300,
            "height": 250,
            **request,
        },
        "consent": {"gdprApplies": False, "usPrivacy": "1YNN"},
        "meta": {
            "sdk": {"name": "apex-web", "version": "1.4.0"},
            "publisherId": market.tenant.publisher_id,
            "appId": market.web_app_id,
        },
    }


async def test_preflight_answers_allowed_origins_only(market: Market) -> None:
    async with market.make_client() as http:
        allowed = await http.options(
            "/auction", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        other = await http.options(
            "/auction",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers


async def test_web_fill_and_no_fill_are_both_200(market: Market) -> None:
    filled = await market.placement(
        "banner", app_id=market.web_app_id, bidding=[market.line("high")]
    )
    empty = await market.placement(
        "banner", app_id=market.web_app_id, bidding=[market.line("never")]
    )
    async with market.make_client() as http:
        response = await http.post(
            "/auction", json=web_body(market, filled), headers={"Origin": ORIGIN}
        )
        nothing = await http.post(
            "/auction", json=web_body(market, empty), headers={"Origin": ORIGIN}
        )
        foreign = await http.post(
            "/auction", json=web_body(market, filled), headers={"Origin": "https://evil.example"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    body = response.json()
    assert body["fill"] is True and body["price"] == 3.0 and body["currency"] == "USD"
    assert body["creative"]["html"] and body["creative"]["tracking"]["impression"]
    assert isinstance(body["ttlSeconds"], int) and body["ttlSeconds"] > 0
    assert nothing.status_code == 200
    assert nothing.json() == {"requestId": nothing.json()["requestId"], "fill": False}
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == 2001


async def test_web_rejects_an_unknown_app_and_a_bad_ad_type(market: Market) -> None:
    placement = await market.placement("banner", app_id=market.web_app_id)
    body = web_body(market, placement)
    body["meta"]["appId"] = market.app_id  # an android app: not a web app
    async with market.make_client() as http:
        wrong_app = await http.post("/auction", json=body)
        bad_type = await http.post("/auction", json=web_body(market, placement, adType="native"))
    assert wrong_app.status_code == 401
    assert bad_type.status_code == 400
    assert bad_type.json()["error"]["message"].startswith("request.adType")


async def test_ctv_bid(market: Market) -> None:
    placement = await market.placement("interstitial", bidding=[market.line("euro")])
    response = await market.post(
        "/api/v1/rtb/bid",
        {
            "placementId": placement,
            "adType": "interstitial",
            "device": {"os": "tvos", "model": "AppleTV11,1", "ip": "198.51.100.20", "lmt": 0},
            "consent": {"gdpr": 0, "us_privacy": "1YNN", "coppa": 0},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    inner = body["response"]
    assert set(inner) >= {
        "requestId",
        "bidId",
        "adapter",
        "cpm",
        "ttlSeconds",
        "creativeUrl",
        "tracking",
        "consentEcho",
    }
    assert inner["cpm"] == 2.11
    assert set(inner["tracking"]) == {"impression", "click"}
    assert inner["consentEcho"]["us_privacy"] == "1YNN"


async def test_ctv_budget_is_120_ms_by_default(market: Market) -> None:
    placement = await market.placement(
        "interstitial", timeoutMs=5000, bidding=[market.line("hang")]
    )
    response = await market.post(
        "/api/v1/rtb/bid",
        {"placementId": placement, "adType": "interstitial", "testMode": True},
        params={"debug": "1"},
    )
    trace = response.json()["response"]
    assert response.status_code == 200
    assert trace["adapter"] == "apex_test"  # the hung bidder timed out; test fill answered
