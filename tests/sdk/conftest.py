"""A small market for SDK tests: local OpenRTB bidders (fakes at the network boundary) and a
publisher with apps, placements and an SDK key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from apex_mediation.demo.bidders import BidderProfile, DemoBidders
from tests.helpers import Tenant

PROFILES = [
    # Deterministic: fixed prices and latencies, never failing.
    BidderProfile(
        "high",
        bid_rate=1,
        price_median_cpm=3.0,
        price_sigma=0,
        latency_median_ms=5,
        latency_sigma=0,
        error_rate=0,
    ),
    BidderProfile(
        "euro",
        bid_rate=1,
        price_median_cpm=2.0,
        price_sigma=0,
        latency_median_ms=5,
        latency_sigma=0,
        error_rate=0,
        currency="EUR",
    ),  # 2.11 USD
    BidderProfile(
        "stubborn",
        bid_rate=1,
        price_median_cpm=3.0,
        price_sigma=0,
        latency_median_ms=5,
        latency_sigma=0,
        error_rate=0,
        respect_floor=False,
    ),
    BidderProfile("never", bid_rate=0, latency_median_ms=2, latency_sigma=0, error_rate=0),
    BidderProfile("hang", behaviour="hang", latency_median_ms=1, latency_sigma=0, error_rate=0),
    BidderProfile(
        "garbage", behaviour="garbage", latency_median_ms=1, latency_sigma=0, error_rate=0
    ),
    BidderProfile("huge", behaviour="huge", latency_median_ms=1, latency_sigma=0, error_rate=0),
    BidderProfile(
        "broken", behaviour="http500", latency_median_ms=1, latency_sigma=0, error_rate=0
    ),
    BidderProfile(
        "yen",
        bid_rate=1,
        price_median_cpm=500,
        price_sigma=0,
        latency_median_ms=5,
        latency_sigma=0,
        error_rate=0,
        currency="XXX",
    ),
]


@pytest.fixture(scope="session")
async def bidders() -> AsyncIterator[DemoBidders]:
    server = DemoBidders(PROFILES)
    await server.start()
    yield server
    await server.stop()


@dataclass
class Market:
    tenant: Tenant
    app: FastAPI
    bidders: DemoBidders
    app_id: str
    sdk_key: str
    web_app_id: str
    make_client: Callable[[], httpx.AsyncClient]

    def line(self, name: str) -> dict[str, Any]:
        return {"network": "openrtb", "params": {"endpoint": self.bidders.endpoint(name)}}

    async def placement(
        self, fmt: str = "interstitial", app_id: str | None = None, **config: Any
    ) -> str:
        created = await self.tenant.create(
            "/api/v1/placements",
            {"name": f"p-{fmt}", "appId": app_id or self.app_id, "format": fmt, "config": config},
        )
        await self.refresh()
        return str(created["id"])

    async def refresh(self) -> None:
        await self.app.state.auction.snapshots.refresh()

    async def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        async with self.make_client() as http:
            return await http.post(
                path, json=body, headers={"X-Api-Key": self.sdk_key, **(headers or {})}, **kwargs
            )


@pytest.fixture
async def market(
    tenant: Tenant, app: FastAPI, bidders: DemoBidders, make_client: Callable[[], httpx.AsyncClient]
) -> Market:
    android = await tenant.android_app()
    web = await tenant.create(
        "/api/v1/apps",
        {
            "name": "site",
            "platform": "web",
            "domain": "news.example",
            "allowedOrigins": ["https://news.example"],
        },
    )
    key = await tenant.create(
        "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": android["id"]}
    )
    market = Market(
        tenant=tenant,
        app=app,
        bidders=bidders,
        app_id=android["id"],
        sdk_key=key["key"],
        web_app_id=web["id"],
        make_client=make_client,
    )
    await market.refresh()
    return market
