"""Strict request models: a bad body is a 400 naming the field, never a 5xx or a coercion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Tenant


def _fields(body: dict[str, Any]) -> list[str]:
    return [f["field"] for f in body["error"]["details"]["fields"]]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"floorCpmMicros": True}, "config.floorCpmMicros"),  # a bool is not a number
        ({"floorCpmMicros": "100"}, "config.floorCpmMicros"),  # nor is a string
        ({"floorCpmMicros": 1.5}, "config.floorCpmMicros"),  # money is integer micros
        ({"floorCpmMicros": -1}, "config.floorCpmMicros"),
        ({"timeoutMs": 0}, "config.timeoutMs"),
        ({"auctionType": "third_price"}, "config.auctionType"),
        ({"countryFloors": {"usa": 1}}, "config.countryFloors"),
        ({"waterfall": [{"network": "admob"}]}, "config.waterfall[0].priority"),
        ({"waterfall": [{"network": "Bad Name!", "priority": 1}]}, "config.waterfall[0].network"),
        (
            {
                "waterfall": [
                    {"network": "admob", "priority": 1},
                    {"network": "unity", "priority": 1},
                ]
            },
            "config.waterfall",
        ),
        ({"flooor": 1}, "config.flooor"),  # typos are errors
    ],
)
async def test_bad_placement_config_names_the_field(
    tenant: Tenant, config: dict[str, Any], field: str
) -> None:
    app = await tenant.android_app()
    response = await tenant.call(
        "POST",
        "/api/v1/placements",
        json={"name": "p", "appId": app["id"], "format": "banner", "config": config},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"]["code"] == 1001
    assert body["error"]["name"] == "INVALID_REQUEST"
    assert field in _fields(body)
    assert field in body["error"]["message"] or body["error"]["message"].startswith(
        _fields(body)[0]
    )


async def test_malformed_json_is_a_400(tenant: Tenant) -> None:
    response = await tenant.call(
        "POST", "/api/v1/apps", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "request body is not valid JSON"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "platform": "android"}, "body"),  # android needs a bundle id
        ({"name": "x", "platform": "web", "domain": "not a domain"}, "domain"),
        (
            {
                "name": "x",
                "platform": "web",
                "domain": "a.example",
                "allowedOrigins": ["javascript:alert(1)"],
            },
            "allowedOrigins",
        ),
        ({"name": "x", "platform": "windows", "bundleId": "a"}, "platform"),
        ({"name": "", "platform": "ios", "bundleId": "a"}, "name"),
        ({"name": "x", "platform": "ios", "bundleId": "a", "testMode": 1}, "testMode"),
    ],
)
async def test_bad_app_names_the_field(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    response = await tenant.call("POST", "/api/v1/apps", json=body)
    assert response.status_code == 400, response.text
    assert any(f == field or f.startswith(field) for f in _fields(response.json()))


async def test_unknown_app_id_in_placement_is_named(tenant: Tenant) -> None:
    response = await tenant.call(
        "POST",
        "/api/v1/placements",
        json={"name": "p", "appId": "00000000-0000-0000-0000-000000000000", "format": "banner"},
    )
    assert response.status_code == 400
    assert _fields(response.json()) == ["appId"]


async def test_malformed_id_in_path_is_a_400(tenant: Tenant) -> None:
    response = await tenant.call("GET", "/api/v1/placements/not-a-uuid")
    assert response.status_code == 400
    assert _fields(response.json()) == ["placement_id"]
