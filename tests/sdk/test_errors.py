"""Status codes and error bodies exactly as PROTOCOL.md §1 and §7 say."""

from __future__ import annotations

import httpx

from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body


def _error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["name"] and error["message"]
    return str(error["message"])


async def test_unknown_key_is_invalid_app_id(market: Market) -> None:
    placement = await market.placement()
    response = await market.post(
        "/v1/auction", android_body(placement), headers={"X-Api-Key": "apx_sdk_nope"}
    )
    assert "X-Api-Key" in _error(response, 401, 2001)


async def test_missing_field_names_it(market: Market) -> None:
    body = android_body("x")
    del body["placement_id"]
    message = _error(await market.post("/v1/auction", body), 400, 1001)
    assert "placement_id" in message


async def test_wrong_type_names_the_field(market: Market) -> None:
    placement = await market.placement()
    body = android_body(placement, device_info={"screen_width": "wide"})
    message = _error(await market.post("/v1/auction", body), 400, 1001)
    assert message.startswith("device_info.screen_width")


async def test_unknown_ad_type_and_placement(market: Market) -> None:
    placement = await market.placement()
    assert "ad_type" in _error(
        await market.post("/v1/auction", android_body(placement, ad_type="popunder")), 400, 1001
    )
    assert "placement_id" in _error(
        await market.post("/v1/auction", android_body("00000000-0000-0000-0000-000000000000")),
        400,
        1001,
    )
    assert "does not match" in _error(
        await market.post("/v1/auction", android_body(placement, ad_type="banner")), 400, 1001
    )


async def test_not_json_and_too_large(market: Market) -> None:
    async with market.make_client() as http:
        garbage = await http.post(
            "/v1/auction", content=b"{nope", headers={"X-Api-Key": market.sdk_key}
        )
        huge = await http.post(
            "/v1/auction", content=b"x" * (256 * 1024 + 1), headers={"X-Api-Key": market.sdk_key}
        )
    assert "JSON" in _error(garbage, 400, 1001)
    _error(huge, 413, 1001)


async def test_another_apps_placement_is_refused(market: Market) -> None:
    other = await market.placement(app_id=market.web_app_id, fmt="banner")
    response = await market.post("/v1/auction", android_body(other, ad_type="banner"))
    _error(response, 400, 1001)


async def test_over_the_rate_limit_is_429_with_retry_after(market: Market) -> None:
    from apex_mediation.sdk.limits import SdkLimits

    placement = await market.placement()
    runtime = market.app.state.auction
    generous, runtime.limits = runtime.limits, SdkLimits(per_app_per_s=10_000, per_ip_per_s=2)
    try:
        responses = [await market.post("/v1/auction", android_body(placement)) for _ in range(6)]
    finally:
        runtime.limits = generous
    # Two a second per IP: six quick requests span at most two one-second windows, so at most
    # four pass and at least two are limited.
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) >= 2
    assert all(r.status_code in (200, 204) for r in responses if r.status_code != 429)
    assert limited[0].headers["retry-after"] == "1"
    assert limited[0].json()["error"]["code"] == 1001
