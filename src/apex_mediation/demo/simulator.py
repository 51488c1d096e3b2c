"""A traffic simulator: many SDK installs asking for ads and reporting what they showed.

Each simulated request comes from an install with its own advertising id, platform, country
(sent in the trusted geo header, as a CDN would), consent mix and behaviour: it shows most fills
(impression beacon), clicks some, and watches rewarded videos to the end. Rate and duration are
bounded; traffic goes only where it is pointed (the demo points it at itself, gently).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

SDK_USER_AGENT = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240305.019)"
COUNTRIES = ("US", "DE", "GB", "FR", "BR", "IN", "JP", "CA")
# A plausible consent mix: most traffic outside GDPR, some with it and a consent string.
TCF_CONSENT = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"


@dataclass(frozen=True)
class Install:
    ifa: str
    country: str
    gdpr: bool
    lat: bool


@dataclass
class Behaviour:
    show_rate: float = 0.9
    click_rate: float = 0.03
    complete_rate: float = 0.8


@dataclass
class SimulationReport:
    requests: int = 0
    fills: int = 0
    impressions: int = 0
    clicks: int = 0
    rewards: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class Simulator:
    client: httpx.AsyncClient
    sdk_key: str
    placements: dict[str, str]  # placement id -> ad format
    installs: int = 200
    behaviour: Behaviour = field(default_factory=Behaviour)
    geo_header: str = "CF-IPCountry"
    seed: int | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._installs = [
            Install(
                str(uuid.UUID(int=self._rng.getrandbits(128))),
                self._rng.choice(COUNTRIES),
                self._rng.random() < 0.2,
                self._rng.random() < 0.1,
            )
            for _ in range(self.installs)
        ]

    async def run(
        self, rate_per_s: float, duration_s: float, max_requests: int = 100_000
    ) -> SimulationReport:
        report = SimulationReport()
        interval = 1 / rate_per_s
        started = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        for n in range(max_requests):
            due = started + n * interval
            if due - started >= duration_s:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(self._one(report))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        return report

    async def _one(self, report: SimulationReport) -> None:
        install = self._rng.choice(self._installs)
        placement_id, ad_format = self._rng.choice(list(self.placements.items()))
        body = {
            "request_id": uuid.uuid4().hex,
            "placement_id": placement_id,
            "ad_type": ad_format,
            "metadata": {
                "gdpr_applies": "1" if install.gdpr else "0",
                "gdpr_consent": TCF_CONSENT if install.gdpr else "",
                "us_privacy": "1YNN" if install.country == "US" else "",
            },
            "device_info": {"os": "android", "os_version": "14", "model": "Pixel 8"},
            "user_info": {"limit_ad_tracking": install.lat, "advertising_id": install.ifa},
        }
        headers = {
            "X-Api-Key": self.sdk_key,
            self.geo_header: install.country,
            "User-Agent": SDK_USER_AGENT,  # what the Android SDK's HTTP client sends
        }
        report.requests += 1
        try:
            response = await self.client.post("/v1/auction", json=body, headers=headers)
        except httpx.HTTPError:
            report.errors += 1
            return
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        if response.status_code != 200:
            return
        report.fills += 1
        tracking = response.json()["winner"]["tracking"]
        if self._rng.random() >= self.behaviour.show_rate:
            return
        await self._beacon(tracking["imp"], headers, report, "impressions")
        if self._rng.random() < self.behaviour.click_rate:
            await self._beacon(tracking["click"], headers, report, "clicks")
        if ad_format == "rewarded" and self._rng.random() < self.behaviour.complete_rate:
            for event in ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete"):
                await self._beacon(tracking[event], headers, None, "")
            await self._beacon(tracking["reward"], headers, report, "rewards")

    async def _beacon(
        self, url: str, headers: dict[str, str], report: SimulationReport | None, counter: str
    ) -> None:
        parts = urlsplit(url)
        try:
            response = await self.client.get(
                f"{parts.path}?{parts.query}",
                headers={
                    self.geo_header: headers[self.geo_header],
                    "User-Agent": SDK_USER_AGENT,
                },
            )
        except httpx.HTTPError:
            if report is not None:
                report.errors += 1
            return
        if report is not None and response.status_code in (204, 302):
            setattr(report, counter, getattr(report, counter) + 1)
