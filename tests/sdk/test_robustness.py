"""Any body, any headers, on every SDK endpoint: never a 5xx, always the documented error body."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sdk.conftest import Market

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=6)
    ),
    max_leaves=25,
)
FIELDS = [
    "placement_id",
    "placementId",
    "ad_type",
    "adType",
    "request",
    "meta",
    "consent",
    "device_info",
    "user_info",
    "metadata",
    "device",
    "floor_cpm",
    "timeout_ms",
    "adapters",
    "app_id",
    "placement",
    "testMode",
    "test",
]
shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
ENDPOINTS = ["/v1/auction", "/auction", "/api/v1/rtb/bid"]


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and response.content:
        error = response.json()["error"]
        assert isinstance(error["code"], int) and error["name"] and error["message"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=bodies,
    endpoint=st.sampled_from(ENDPOINTS),
    key=header_values,
    origin=header_values,
    valid_key=st.booleans(),
)
async def test_any_body_and_headers_never_give_a_5xx(
    market: Market, body: bytes, endpoint: str, key: str, origin: str, valid_key: bool
) -> None:
    headers = {
        "X-Api-Key": market.sdk_key if valid_key else key,
        "Origin": origin,
        "Content-Type": "application/json",
    }
    async with market.make_client() as http:
        _check(await http.post(endpoint, content=body, headers=headers))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(overrides=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5))
async def test_mutated_valid_android_bodies_never_give_a_5xx(
    market: Market, overrides: dict[str, Any]
) -> None:
    from tests.sdk.test_mobile_auction import android_body

    placement = market.app.state.auction.snapshots.current.placements_of(market.app_id)
    placement_id = placement[0].id if placement else "missing"
    body = {**android_body(placement_id), **overrides}
    _check(await market.post("/v1/auction", body))
