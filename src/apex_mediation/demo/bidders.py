"""Local OpenRTB 2.6 bidders for the demo, the tests and the benchmark.

Each bidder answers `POST /openrtb/<name>` like a real exchange would: it bids on some requests
(log-normal prices above the floor), answers after a log-normal latency with a tail, fails now and
then, and records the win and loss notices it receives. Misbehaviours (garbage, huge bodies,
hanging, a wrong currency) can be switched on to test that one bad bidder stays contained.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Behaviour = Literal["normal", "garbage", "huge", "hang", "http500", "slow"]


@dataclass
class BidderProfile:
    name: str
    bid_rate: float = 0.8
    price_median_cpm: float = 2.0
    price_sigma: float = 0.5  # 0: always the median
    latency_median_ms: float = 40.0
    latency_sigma: float = 0.4  # 0: always the median; tail grows with sigma
    error_rate: float = 0.01
    currency: str = "USD"
    behaviour: Behaviour = "normal"
    respect_floor: bool = True  # False: bids its own price even below the floor it was sent
    seed: int | None = None


@dataclass
class BidderStats:
    requests: int = 0
    bids: int = 0
    wins: list[str] = field(default_factory=list)  # prices from win notices
    losses: list[str] = field(default_factory=list)  # loss codes from loss notices
    last_request: dict[str, Any] | None = None


class DemoBidders:
    """Several bidders on one local port, each under its own path."""

    def __init__(
        self, profiles: list[BidderProfile], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.profiles = {p.name: p for p in profiles}
        self.stats = {p.name: BidderStats() for p in profiles}
        self._random = {p.name: random.Random(p.seed) for p in profiles}
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    def endpoint(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/openrtb/{name}"

    async def start(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/openrtb/{name}", self._bid)
        app.router.add_get("/notice/{kind}/{name}", self._notice)
        # Short shutdown: a "hang" bidder must not hold the process for a minute on stop.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _notice(self, request: web.Request) -> web.Response:
        stats = self.stats.get(request.match_info["name"])
        if stats is not None:
            if request.match_info["kind"] == "win":
                stats.wins.append(request.query.get("price", ""))
            else:
                stats.losses.append(request.query.get("loss", ""))
        return web.Response(status=204)

    async def _bid(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        profile, stats = self.profiles.get(name), self.stats.get(name)
        if profile is None or stats is None:
            return web.Response(status=404)
        rnd = self._random[name]
        stats.requests += 1
        payload = await request.json()
        stats.last_request = payload
        await asyncio.sleep(
            _lognormal(rnd, profile.latency_median_ms, profile.latency_sigma) / 1000
        )
        if profile.behaviour == "hang":
            await asyncio.sleep(3600)
        if profile.behaviour == "http500" or rnd.random() < profile.error_rate:
            return web.Response(status=500, text="internal error")
        if profile.behaviour == "garbage":
            return web.Response(status=200, body=b"\x00{not json", content_type="application/json")
        if profile.behaviour == "huge":
            return web.Response(
                status=200,
                body=b"[" + b"0," * (2 * 1024 * 1024) + b"0]",
                content_type="application/json",
            )
        if rnd.random() >= profile.bid_rate:
            return web.Response(status=204)
        stats.bids += 1
        return web.json_response(self._response(profile, rnd, payload))

    def _response(
        self, profile: BidderProfile, rnd: random.Random, payload: dict[str, Any]
    ) -> dict[str, Any]:
        imp = payload["imp"][0]
        floor = float(imp.get("bidfloor") or 0)
        price = _lognormal(rnd, profile.price_median_cpm, profile.price_sigma)
        if profile.respect_floor:
            price = max(price, floor * 1.05)
        base = f"http://{self.host}:{self.port}/notice"
        bid_id = secrets.token_hex(6)
        markup = (
            f'<div class="demo-ad" style="background:#222;color:#fff;padding:8px">'
            f"{profile.name} demo ad #{bid_id}</div>"
        )
        return {
            "id": payload["id"],
            "cur": profile.currency,
            "seatbid": [
                {
                    "seat": profile.name,
                    "bid": [
                        {
                            "id": bid_id,
                            "impid": imp["id"],
                            "price": round(price, 4),
                            "adm": markup,
                            "crid": f"{profile.name}-creative-{rnd.randint(1, 20)}",
                            "adomain": [f"{profile.name}-advertiser.example"],
                            "mtype": 1,
                            "nurl": f"{base}/win/{profile.name}?price=${{AUCTION_PRICE}}",
                            "lurl": f"{base}/loss/{profile.name}?loss=${{AUCTION_LOSS}}",
                        }
                    ],
                }
            ],
        }


def _lognormal(rnd: random.Random, median: float, sigma: float) -> float:
    return median if sigma <= 0 else rnd.lognormvariate(math.log(median), sigma)


DEMO_PROFILES = [
    BidderProfile("demo_alpha", bid_rate=0.85, price_median_cpm=2.4, latency_median_ms=45),
    BidderProfile(
        "demo_beta", bid_rate=0.6, price_median_cpm=3.1, latency_median_ms=70, latency_sigma=0.6
    ),
    BidderProfile(
        "demo_gamma", bid_rate=0.75, price_median_cpm=1.9, latency_median_ms=30, currency="EUR"
    ),
]
