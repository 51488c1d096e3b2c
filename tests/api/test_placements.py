"""The placements API as PROTOCOL.md §8 documents it, with the richer config."""

from __future__ import annotations

from typing import Any

from tests.helpers import Tenant


async def _placement(tenant: Tenant, app_id: str, **config: Any) -> dict[str, Any]:
    return await tenant.create(
        "/api/v1/placements",
        {
            "name": "Level end",
            "appId": app_id,
            "format": "interstitial",
            "config": {
                "waterfall": [
                    {"network": "admob", "priority": 1, "params": {"ad_unit_id": "ca-app-pub-1/2"}}
                ],
                **config,
            },
        },
    )


async def test_create_in_the_documented_shape_and_read_back(tenant: Tenant) -> None:
    app = await tenant.android_app()
    created = await _placement(tenant, app["id"])
    assert created["appId"] == app["id"]
    assert created["format"] == "interstitial"
    assert created["configVersion"] == 1
    assert created["config"]["waterfall"] == [
        {
            "network": "admob",
            "priority": 1,
            "params": {"ad_unit_id": "ca-app-pub-1/2"},
            "ecpmMicros": None,
            "networkAccountId": None,
            "enabled": True,
        }
    ]
    assert created["config"]["timeoutMs"] == 800
    assert created["config"]["auctionType"] == "first_price"
    fetched = await tenant.call("GET", f"/api/v1/placements/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_put_replaces_the_whole_config_and_bumps_the_version(tenant: Tenant) -> None:
    app = await tenant.android_app()
    created = await _placement(tenant, app["id"], floorCpmMicros=500_000)
    response = await tenant.call(
        "PUT",
        f"/api/v1/placements/{created['id']}",
        json={
            "config": {
                "bidding": [{"network": "inmobi", "params": {"plc": "1234567890"}}],
                "countryFloors": {"US": 2_000_000},
                "auctionType": "second_price",
            }
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["configVersion"] == 2
    assert body["config"]["waterfall"] == []  # replaced, not merged
    assert body["config"]["floorCpmMicros"] == 0
    assert body["config"]["countryFloors"] == {"US": 2_000_000}
    assert [line["network"] for line in body["config"]["bidding"]] == ["inmobi"]


async def test_waterfall_is_returned_in_priority_order(tenant: Tenant) -> None:
    app = await tenant.android_app()
    created = await tenant.create(
        "/api/v1/placements",
        {
            "name": "p",
            "appId": app["id"],
            "format": "banner",
            "config": {
                "waterfall": [
                    {
                        "network": "unity",
                        "priority": 5,
                        "ecpmMicros": 1,
                        "params": {"placement_id": "Banner"},
                    },
                    {
                        "network": "admob",
                        "priority": 2,
                        "ecpmMicros": 2,
                        "params": {"ad_unit_id": "ca-app-pub-3940256099942544/1033173712"},
                    },
                ]
            },
        },
    )
    assert [line["priority"] for line in created["config"]["waterfall"]] == [2, 5]


async def test_list_paginates_and_filters_by_format(tenant: Tenant) -> None:
    app = await tenant.android_app()
    for fmt in ("banner", "banner", "rewarded"):
        await tenant.create("/api/v1/placements", {"name": fmt, "appId": app["id"], "format": fmt})
    page = (await tenant.call("GET", "/api/v1/placements?pageSize=2&page=1")).json()
    assert page["pagination"] == {"page": 1, "pageSize": 2, "total": 3, "totalPages": 2}
    assert len(page["data"]) == 2
    second = (await tenant.call("GET", "/api/v1/placements?pageSize=2&page=2")).json()
    assert len(second["data"]) == 1
    assert {p["id"] for p in page["data"]}.isdisjoint({p["id"] for p in second["data"]})
    banners = (await tenant.call("GET", "/api/v1/placements?format=banner")).json()
    assert banners["pagination"]["total"] == 2
    assert all(p["format"] == "banner" for p in banners["data"])
    default = (await tenant.call("GET", "/api/v1/placements")).json()
    assert default["pagination"]["pageSize"] == 50


async def test_page_size_above_200_is_refused(tenant: Tenant) -> None:
    response = await tenant.call("GET", "/api/v1/placements?pageSize=201")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["field"] == "pageSize"


async def test_network_account_of_another_network_is_refused(tenant: Tenant) -> None:
    app = await tenant.android_app()
    account = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "unity", "name": "main", "credentials": {"game_id": "1"}},
    )
    response = await tenant.call(
        "POST",
        "/api/v1/placements",
        json={
            "name": "p",
            "appId": app["id"],
            "format": "banner",
            "config": {
                "waterfall": [
                    {
                        "network": "admob",
                        "priority": 0,
                        "networkAccountId": account["id"],
                        "params": {"ad_unit_id": "ca-app-pub-3940256099942544/1033173712"},
                    }
                ]
            },
        },
    )
    assert response.status_code == 400
    assert (
        response.json()["error"]["details"]["fields"][0]["field"]
        == "config.waterfall[0].networkAccountId"
    )


async def test_line_params_must_fit_the_networks_model(tenant: Tenant) -> None:
    app = await tenant.android_app()
    bad_unit = await tenant.call(
        "POST",
        "/api/v1/placements",
        json={
            "name": "p",
            "appId": app["id"],
            "format": "banner",
            "config": {
                "waterfall": [{"network": "admob", "priority": 0, "params": {"ad_unit_id": "nope"}}]
            },
        },
    )
    assert bad_unit.status_code == 400
    assert bad_unit.json()["error"]["details"]["fields"][0]["field"] == "config.waterfall[0].params"
    client_side_bidder = await tenant.call(
        "POST",
        "/api/v1/placements",
        json={
            "name": "p",
            "appId": app["id"],
            "format": "banner",
            "config": {
                "bidding": [{"network": "unity", "params": {"placement_id": "Banner_Android"}}]
            },
        },
    )
    assert client_side_bidder.status_code == 400
    assert "waterfall" in client_side_bidder.json()["error"]["message"]
