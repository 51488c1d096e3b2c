"""Labelled traffic for measuring invalid-traffic (IVT) detection: honest installs mixed with
actors that each show one kind of invalid behaviour, every answered request written down with
the truth about it (its label), so that ivt/measure.py can score what the server flagged.

Design: each invalid actor shows exactly one invalid trait and looks honest in everything else
(residential address, consistent country, human pacing, an app's or a browser's user agent), so
that a reason's recall measures that reason alone. Traffic goes only where the client points
(the benchmark points it at 127.0.0.1); rate, duration, request count and the wait for late
beacons are all bounded.

Kinds (label names are ivt/reasons.py's):
- honest: installs on Android (Dalvik or okhttp user agent), iOS (CFNetwork; when an iOS app is
  given) and the web (real browsers, the site's Origin; when web placements are given), each
  with one residential address, a geo header, language and timezone of one country, a few
  requests a minute; they show ~90% of fills 1-3 s later, click ~2% of them >= 2 s after the
  impression, and watch rewarded videos (progress beacons, then the reward >= 12 s after the
  impression: real durations compressed, never below 10 s).
- GIVT: declared_bot (Googlebot, bingbot, AhrefsBot), headless_browser (HeadlessChrome),
  scripted_client (python-requests, curl, Go-http-client) -- on the web endpoint when there is
  one, else in Android bodies (scripted_client uses both); datacenter_ip (cloud addresses);
  prefetch (web only: `Sec-Purpose`/`Purpose: prefetch`; half are pre-renders that fire the
  impression, with the same headers); impossible_placement (a banner on a 0x0 or 100x100
  screen: needs an Android banner placement); blocklisted (the address the caller put on the
  block-list: only with `blocklisted_ip`).
- SIVT: device_rate (one advertising id at ~2 requests/s, in bursts), ip_rate (hundreds of
  devices behind one address at ~5/s, in bursts), impression_rate (one device at ~2/s showing
  every fill at once), device_many_ips (a new address on every request of one id), fast_click
  (clicks 50-300 ms after the impression), click_burst (one device clicking every fill, ~30 a
  minute), replayed_token (every impression beacon sent 3-5 times), geo_mismatch (geo header VN,
  ID or NG while the device declares US, DE or GB by language and timezone), fast_reward (the
  reward 1-2 s after the impression, no progress beacons: needs a rewarded placement).
  no_prior_auction is not produced: an SDK client only holds tokens of auctions the server ran.
A kind that lacks what it needs is skipped (reported in `IvtMixReport.skipped`). Where GDPR
applies (DE, GB, FR) installs send a TCF consent string, yet bidders without a Global Vendor
List id (the local demo bidders) are not called: those auctions are records without events.
Kinds whose trait shows only in beacons therefore come from countries outside GDPR.

Mix: shares of *auction requests* per kind; by default 80% honest and the rest evenly over the
invalid kinds that run. Bursty kinds fit their share by alternating bursts at their natural rate
with pauses, always with the same device (or address).

Records and labels (what measure.py relies on):
- An auction record for every auction request answered 200 or 204 (web: 200, filled or not).
  It always carries `request_id` (the one sent; web: the answer's `requestId`) and, when the
  answer names it, `auction_id` (Android/iOS: the body's `auction_id`; web: read from the
  beacon token). A 204 names no auction: measure.py joins on `auctions.request_id`.
- An event record for every accepted beacon (2xx; a click's 302 too), keyed by `auction_id` and
  `record` = the server's event name (tracking/event_names.py: impression, click, video_start,
  video_first_quartile, video_midpoint, video_third_quartile, video_complete, reward). A beacon
  sent again with the same token is the same record (the server counts it once): written once.
- Requests the server refused (4xx, 5xx) or that failed are not records; the report counts them.
- `label` is the actor's kind for every record it produces ("honest" for honest installs),
  except where the invalid behaviour shows only at a later stage:
  - fast_click: the auction and the impression are "honest", the click is "fast_click";
  - fast_reward: the auction and the impression are "honest", the reward is "fast_reward";
  - replayed_token: auctions are "honest"; per device, an impression sent before that device
    first replayed a beacon is "honest" (so its first impression, the one it then replays), and
    every impression sent after it is "replayed_token".
Each record line: {"record", "label", "auction_id"?, "request_id"? (auctions), "actor": kind}.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import importlib
import ipaddress
import json
import math
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec

from apex_mediation.tracking import event_names
from apex_mediation.tracking.tokens import BeaconClaims

HONEST = "honest"
# Kinds in the order of ivt/reasons.py; no_prior_auction cannot come from an SDK client that
# holds valid tokens (every token names an auction the server ran), so it is not produced.
GIVT_KINDS = (
    "declared_bot",
    "headless_browser",
    "scripted_client",
    "datacenter_ip",
    "prefetch",
    "impossible_placement",
    "blocklisted",
)
SIVT_KINDS = (
    "device_rate",
    "ip_rate",
    "impression_rate",
    "device_many_ips",
    "fast_click",
    "click_burst",
    "replayed_token",
    "geo_mismatch",
    "fast_reward",
)
KINDS = (HONEST, *GIVT_KINDS, *SIVT_KINDS)
HONEST_SHARE = 0.8

# -- who the clients are ------------------------------------------------------------------------

# country -> (timezones, language tag, residential prefixes). Prefixes are large consumer ISPs'
# (Comcast, Deutsche Telekom, BT, Orange, Jio, SoftBank, ...), clear of the cloud ranges below.
COUNTRIES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "US": (
        ("America/New_York", "America/Chicago", "America/Los_Angeles"),
        "en-US",
        ("73.0.0.0/8", "71.160.0.0/11"),
    ),
    "DE": (("Europe/Berlin",), "de-DE", ("79.192.0.0/10", "91.0.0.0/10")),
    "GB": (("Europe/London",), "en-GB", ("86.128.0.0/10", "81.128.0.0/11")),
    "FR": (("Europe/Paris",), "fr-FR", ("90.0.0.0/9", "86.192.0.0/11")),
    "BR": (("America/Sao_Paulo",), "pt-BR", ("201.0.0.0/12", "189.0.0.0/11")),
    "IN": (("Asia/Kolkata",), "en-IN", ("49.32.0.0/11", "106.192.0.0/11")),
    "JP": (("Asia/Tokyo",), "ja-JP", ("126.0.0.0/8", "153.128.0.0/10")),
}
HONEST_COUNTRIES = ("US", "US", "US", "DE", "GB", "FR", "BR", "IN", "IN", "JP")
# Where GDPR applies, bidders without a Global Vendor List id are not called, so those auctions
# do not fill. Kinds whose trait shows only in beacons come from elsewhere, so that they fill.
NON_GDPR_COUNTRIES = ("US", "US", "BR", "IN", "JP")
NEEDS_FILLS = frozenset(
    {"impression_rate", "fast_click", "click_burst", "replayed_token", "fast_reward"}
)
# Where a geo_mismatch device's address (and so the geo header) says it is, vs what it declares.
MISMATCH = (("VN", "US"), ("ID", "DE"), ("NG", "GB"))
FOREIGN_PREFIXES = {
    "VN": ("113.160.0.0/11", "14.160.0.0/11"),
    "ID": ("36.64.0.0/11",),
    "NG": ("105.112.0.0/12",),
}
# Well-known cloud ranges: AWS, GCP, Azure, DigitalOcean, Hetzner. The datacenter_ip actor
# comes from these; honest addresses never fall in them (nor in ivt/ranges.py's, when shipped).
DATACENTER_PREFIXES = (
    "3.80.0.0/12",  # AWS us-east-1
    "54.144.0.0/12",  # AWS
    "34.64.0.0/10",  # GCP
    "35.184.0.0/13",  # GCP
    "13.64.0.0/11",  # Azure
    "40.112.0.0/13",  # Azure
    "159.203.0.0/16",  # DigitalOcean
    "167.99.0.0/16",  # DigitalOcean
    "95.216.0.0/16",  # Hetzner
    "49.12.0.0/15",  # Hetzner
    "88.198.0.0/16",  # Hetzner
)

ANDROID_MODELS = (  # make, model, os version, build, screen w, h
    ("Google", "Pixel 8", "14", "AP1A.240305.019", 1080, 2400),
    ("samsung", "SM-S918B", "14", "UP1A.231005.007", 1440, 3088),
    ("samsung", "SM-A546B", "14", "UP1A.231005.007", 1080, 2340),
    ("Xiaomi", "2201117TY", "13", "TKQ1.221114.001", 1080, 2400),
    ("OnePlus", "CPH2449", "14", "UKQ1.230924.001", 1240, 2772),
    ("motorola", "moto g54 5G", "14", "U1TDS34.94-12-7", 1080, 2400),
)
IOS_MODELS = (  # model, os version, CFNetwork/Darwin, screen w, h, scale
    ("iPhone15,2", "17.4", "CFNetwork/1494.0.7 Darwin/23.4.0", 1179, 2556, 3.0),
    ("iPhone16,1", "17.4", "CFNetwork/1494.0.7 Darwin/23.4.0", 1179, 2556, 3.0),
    ("iPhone14,5", "16.6", "CFNetwork/1410.0.3 Darwin/22.6.0", 1170, 2532, 3.0),
    ("iPhone12,1", "16.6", "CFNetwork/1410.0.3 Darwin/22.6.0", 828, 1792, 2.0),
)
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.60 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.109 Safari/537.36",
)
SCRIPTS = ("python-requests/2.31.0", "curl/8.5.0", "Go-http-client/1.1")
# Consent as a CMP gives it (the simulator's string), for installs where GDPR applies.
TCF_CONSENT = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"
VIDEO_STEPS = ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete")


def _webview_ua(version: str, model: str, build: str) -> str:
    return (
        f"Mozilla/5.0 (Linux; Android {version}; {model} Build/{build}; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36"
    )


# -- address ranges -------------------------------------------------------------------------------


class Ranges:
    """IPv4 ranges as sorted, merged integer intervals: membership by bisection, because the
    shipped cloud lists hold thousands of prefixes and every generated address is checked."""

    def __init__(self, networks: Iterable[ipaddress.IPv4Network]) -> None:
        spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in networks)
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        value = int(ipaddress.IPv4Address(address))
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self._ends[i]


def _ipv4(item: object) -> ipaddress.IPv4Network | None:
    """A network from what a ranges module may list: a network, a CIDR string, or a row with
    a `cidr`/`network` attribute or key, or a (cidr, source) pair. IPv6 is not generated here."""
    if isinstance(item, tuple) and item:
        item = item[0]
    elif isinstance(item, Mapping):
        item = item.get("cidr") or item.get("network")
    elif not isinstance(item, str | ipaddress.IPv4Network | ipaddress.IPv6Network):
        item = getattr(item, "cidr", None) or getattr(item, "network", None)
    try:
        network = ipaddress.ip_network(str(item), strict=False)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None


def shipped_datacenter_ranges() -> list[ipaddress.IPv4Network]:
    """ivt/ranges.py's shipped cloud ranges if that module exists (it is optional here)."""
    try:
        module = importlib.import_module("apex_mediation.ivt.ranges")
    except ImportError:
        return []
    loader = getattr(module, "shipped_ranges", None)
    if loader is None:
        return []
    found = loader()
    items = found.values() if isinstance(found, Mapping) else found
    networks: list[ipaddress.IPv4Network] = []
    for item in items:
        if isinstance(item, list | set | frozenset):  # {provider: [cidr, ...]}
            networks.extend(n for n in map(_ipv4, item) if n is not None)
        elif (network := _ipv4(item)) is not None:
            networks.append(network)
    return networks


# -- actors ------------------------------------------------------------------------------------


@dataclass
class Device:
    """One install (or browser): what it sends, the same on every request."""

    kind: str
    platform: str  # android | ios | web
    ifa: str
    country: str  # the geo header
    timezone: str | None
    language: str
    ip: str | None  # None: a new address on every request (device_many_ips)
    user_agent: str  # the User-Agent header
    body_user_agent: str | None = None  # device_info.user_agent (Android)
    make: str = ""
    model: str = ""
    os_version: str = ""
    screen: tuple[int, int] = (0, 0)
    screen_scale: float = 3.0
    lat: bool = False
    gdpr: bool = False
    replayed: bool = False  # replayed_token: has replayed a beacon


@dataclass(frozen=True)
class Behaviour:
    """What an actor does with a fill. Delays are (low, high) seconds, uniform."""

    show: float = 0.9
    show_delay: tuple[float, float] = (1.0, 3.0)
    click: float = 0.02
    click_delay: tuple[float, float] = (2.0, 8.0)  # after the impression; honest >= 1.5 s
    watch: float = 0.8  # rewarded: progress beacons, then the reward
    video_s: tuple[float, float] = (12.0, 18.0)  # reward >= 10 s after the impression
    replays: tuple[int, int] = (0, 0)  # extra sends of each impression beacon
    fast_reward: tuple[float, float] | None = None  # reward this soon, without progress


HONEST_BEHAVIOUR = Behaviour()
BEHAVIOURS: dict[str, Behaviour] = {
    HONEST: HONEST_BEHAVIOUR,
    "declared_bot": Behaviour(show_delay=(0.5, 2.0), click=0.0, watch=0.0),
    "headless_browser": Behaviour(show_delay=(0.5, 2.0), click=0.05, click_delay=(2.0, 5.0)),
    "scripted_client": Behaviour(show=0.5, show_delay=(0.2, 1.0), click=0.0, watch=0.0),
    "datacenter_ip": HONEST_BEHAVIOUR,
    "prefetch": Behaviour(show=0.0, click=0.0, watch=0.0),  # pre-renders show: see _auction
    "impossible_placement": Behaviour(watch=0.0),
    "blocklisted": HONEST_BEHAVIOUR,
    "device_rate": HONEST_BEHAVIOUR,
    "ip_rate": HONEST_BEHAVIOUR,
    "impression_rate": Behaviour(show=1.0, show_delay=(0.05, 0.3), click=0.0, watch=0.0),
    "device_many_ips": HONEST_BEHAVIOUR,
    "fast_click": Behaviour(
        show=1.0, show_delay=(1.0, 2.0), click=1.0, click_delay=(0.05, 0.3), watch=0.0
    ),
    "click_burst": Behaviour(
        show=1.0, show_delay=(0.5, 1.5), click=1.0, click_delay=(2.0, 4.0), watch=0.0
    ),
    "replayed_token": Behaviour(show=1.0, click=0.0, watch=0.0, replays=(2, 4)),
    "geo_mismatch": HONEST_BEHAVIOUR,
    "fast_reward": Behaviour(show=1.0, show_delay=(1.0, 2.0), click=0.0, fast_reward=(1.0, 2.0)),
}

# Pacing: paced kinds spread their share over a pool of devices that each ask about every
# `interval` seconds; bursty kinds send at `natural` requests/s in bursts of ~BURST_S.
HUMAN_INTERVAL_S = 20.0
PACED_INTERVAL_S = {"device_many_ips": 10.0, "replayed_token": 10.0}
BURSTY_RATE = {"device_rate": 2.0, "ip_rate": 5.0, "impression_rate": 2.0, "click_burst": 0.5}
BURST_S = 10.0
IP_RATE_DEVICES = 300
FINISH_TIMEOUT_S = 40.0  # the slowest honest flow: 3 s + an 18 s video + an end-card click


@dataclass
class IvtMixReport:
    requests: int = 0  # auction requests sent
    answered: int = 0  # auction records (200/204)
    fills: int = 0
    beacons: int = 0  # beacon requests accepted (replays included)
    errors: int = 0  # transport errors and refused requests (4xx/5xx)
    statuses: dict[int, int] = field(default_factory=dict)  # auction answers by status
    requests_by_kind: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> record -> n
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why
    unfinished: int = 0  # actors still waiting to send a beacon when the run ended
    duration_s: float = 0.0

    def labelled(self, label: str) -> int:
        return sum(self.records.get(label, {}).values())


@dataclass
class IvtMix:
    """Runs the mix against `client` (pointed at the server); see the module docstring."""

    client: httpx.AsyncClient
    sdk_key: str  # the Android app's
    placements: dict[str, str]  # the Android app's placement id -> format
    seed: int | None = None
    web_placements: dict[str, str] = field(default_factory=dict)
    web_app_id: str | None = None
    web_publisher_id: str | None = None
    web_origin: str | None = None  # one of the web app's allowed origins
    ios_sdk_key: str | None = None
    ios_placements: dict[str, str] = field(default_factory=dict)
    blocklisted_ip: str | None = None
    shares: Mapping[str, float] | None = None  # kind -> weight; None: 80% honest, rest even
    geo_header: str = "cf-ipcountry"
    labels_path: Path | None = None  # also write the labels there, one JSON object a line

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.labels: list[dict[str, str]] = []
        self._sink: IO[str] | None = None
        datacenter = [ipaddress.IPv4Network(p) for p in DATACENTER_PREFIXES]
        self._avoid = Ranges([*datacenter, *shipped_datacenter_ranges()])
        self._web = bool(self.web_placements and self.web_app_id)
        self._ios = bool(self.ios_sdk_key and self.ios_placements)

    # -- plan ----------------------------------------------------------------------------------
    def available(self) -> tuple[list[str], dict[str, str]]:
        """The kinds that can run with what was given, and why the others cannot."""
        skipped: dict[str, str] = {}
        if not self._web:
            skipped["prefetch"] = "needs web placements (a browser pre-fetch)"
        if "banner" not in self.placements.values():
            skipped["impossible_placement"] = "needs an Android banner placement"
        if "rewarded" not in self.placements.values():
            skipped["fast_reward"] = "needs an Android rewarded placement"
        if self.blocklisted_ip is None:
            skipped["blocklisted"] = "no blocklisted_ip given"
        return [k for k in KINDS if k not in skipped], skipped

    def shares_for(self, kinds: list[str]) -> dict[str, float]:
        """Normalised shares of auction requests over the kinds that run."""
        if self.shares is not None:
            unknown = set(self.shares) - set(KINDS)
            if unknown:
                raise ValueError(f"unknown kinds in shares: {sorted(unknown)}")
            weights = {k: float(self.shares.get(k, 0.0)) for k in kinds}
        else:
            invalid = [k for k in kinds if k != HONEST]
            weights = {HONEST: HONEST_SHARE}
            weights.update({k: (1 - HONEST_SHARE) / len(invalid) for k in invalid})
        total = sum(w for w in weights.values() if w > 0)
        if total <= 0:
            raise ValueError("shares: no kind has a positive weight")
        return {k: w / total for k, w in weights.items() if w > 0}

    def plan(
        self, rate_per_s: float, duration_s: float, max_requests: int
    ) -> tuple[list[tuple[float, Device]], dict[str, str]]:
        """Every auction request of the run: (seconds from the start, device), in time order."""
        kinds, skipped = self.available()
        shares = self.shares_for(kinds)
        plan: list[tuple[float, Device]] = []
        for kind, share in shares.items():
            rate = rate_per_s * share
            if kind in BURSTY_RATE:
                plan.extend(self._bursty(kind, rate, duration_s))
            else:
                interval = PACED_INTERVAL_S.get(kind, HUMAN_INTERVAL_S)
                plan.extend(self._paced(kind, rate, duration_s, interval))
        plan.sort(key=lambda item: item[0])
        return plan[:max_requests], skipped

    def _paced(
        self, kind: str, rate: float, duration_s: float, interval_s: float
    ) -> list[tuple[float, Device]]:
        """Poisson arrivals at `rate`, taken in turn by a pool sized so that each device asks
        about every `interval_s` (a person's pace)."""
        pool = [self._device(kind) for _ in range(max(1, math.ceil(rate * interval_s)))]
        out: list[tuple[float, Device]] = []
        t = self._rng.expovariate(rate)
        while t < duration_s:
            out.append((t, pool[len(out) % len(pool)]))
            t += self._rng.expovariate(rate)
        return out

    def _bursty(self, kind: str, rate: float, duration_s: float) -> list[tuple[float, Device]]:
        """Bursts at the kind's natural rate with pauses between, averaging `rate`: enough
        actors that none exceeds the natural rate, each the same device (or address) always."""
        natural = BURSTY_RATE[kind]
        actors = max(1, math.ceil(rate / natural))
        per_actor = rate / actors
        cycle = BURST_S * natural / per_actor
        cycles = max(1, round(duration_s / cycle))
        per_burst = max(4, round(per_actor * duration_s / cycles))
        span = duration_s / cycles
        out: list[tuple[float, Device]] = []
        for _ in range(actors):
            if kind == "ip_rate":  # hundreds of devices behind one address
                country = self._rng.choice(HONEST_COUNTRIES)
                address = self._address(country)
                devices = [
                    self._device(kind, ip=address, country=country) for _ in range(IP_RATE_DEVICES)
                ]
            else:
                devices = [self._device(kind)]
            n = 0
            for c in range(cycles):
                slack = max(0.0, span - per_burst / natural)
                start = c * span + self._rng.uniform(0, slack)
                for j in range(per_burst):
                    t = start + (j + self._rng.uniform(-0.1, 0.1)) / natural
                    if 0 <= t < duration_s:
                        out.append((t, devices[n % len(devices)]))
                        n += 1
        return out

    # -- devices -------------------------------------------------------------------------------
    def _address(self, country: str) -> str:
        prefixes = COUNTRIES[country][2] if country in COUNTRIES else FOREIGN_PREFIXES[country]
        return self._pick_ip(prefixes)

    def _pick_ip(self, prefixes: Iterable[str], avoid: bool = True) -> str:
        networks = [ipaddress.IPv4Network(p) for p in prefixes]
        for _ in range(100):
            net = self._rng.choice(networks)
            host = str(net.network_address + self._rng.randrange(1, net.num_addresses - 1))
            if host.endswith((".0", ".255")) or host == self.blocklisted_ip:
                continue
            if avoid and host in self._avoid:
                continue
            return host
        raise RuntimeError(f"no usable address in {list(prefixes)}")

    def _platform(self, kind: str) -> str:
        if kind == HONEST:
            choices = [("android", 0.6)]
            if self._ios:
                choices.append(("ios", 0.25))
            if self._web:
                choices.append(("web", 0.15))
            names, weights = zip(*choices, strict=True)
            return str(self._rng.choices(names, weights)[0])
        if kind == "prefetch" or (kind in ("declared_bot", "headless_browser") and self._web):
            return "web"
        if kind == "scripted_client" and self._web:
            return self._rng.choice(("web", "android"))
        return "android"

    def _device(self, kind: str, ip: str | None = None, country: str | None = None) -> Device:
        platform = self._platform(kind)
        countries = NON_GDPR_COUNTRIES if kind in NEEDS_FILLS else HONEST_COUNTRIES
        country = country or self._rng.choice(countries)
        declared = country
        if kind == "geo_mismatch":
            country, declared = self._rng.choice(MISMATCH)
        timezones, language, _ = COUNTRIES[declared]
        if ip is None and kind != "device_many_ips":
            if kind == "datacenter_ip":
                ip = self._pick_ip(DATACENTER_PREFIXES, avoid=False)
            elif kind == "blocklisted":
                ip = self.blocklisted_ip
            else:
                ip = self._address(country)
        device = Device(
            kind=kind,
            platform=platform,
            ifa=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            country=country,
            timezone=self._rng.choice(timezones),
            language=language,
            ip=ip,
            user_agent="",
            lat=self._rng.random() < 0.05,
            gdpr=declared in ("DE", "GB", "FR"),
        )
        if platform == "android":
            make, model, version, build, width, height = self._rng.choice(ANDROID_MODELS)
            device.make, device.model, device.os_version = make, model, version
            device.screen = (width, height)
            device.body_user_agent = _webview_ua(version, model, build)
            device.user_agent = (
                f"Dalvik/2.1.0 (Linux; U; Android {version}; {model} Build/{build})"
                if self._rng.random() < 0.6
                else "okhttp/4.12.0"
            )
        elif platform == "ios":
            model, version, network, width, height, scale = self._rng.choice(IOS_MODELS)
            device.make, device.model, device.os_version = "Apple", model, version
            device.screen, device.screen_scale = (width, height), scale
            device.user_agent = f"PuzzleQuest/120 {network}"
        else:
            device.timezone = None  # the web body declares no device
            device.user_agent = self._rng.choice(BROWSERS)
        if kind == "declared_bot":
            device.user_agent = self._rng.choice(BOTS)
        elif kind == "headless_browser":
            device.user_agent = self._rng.choice(HEADLESS)
        elif kind == "scripted_client":
            device.user_agent = (
                self._rng.choice(SCRIPTS) if platform == "web" else "python-requests/2.31.0"
            )
        if kind in ("declared_bot", "headless_browser") and platform == "android":
            device.body_user_agent = device.user_agent
        return device

    # -- running -------------------------------------------------------------------------------
    async def run(
        self,
        rate_per_s: float,
        duration_s: float,
        max_requests: int = 100_000,
        finish_timeout_s: float = FINISH_TIMEOUT_S,
    ) -> IvtMixReport:
        """Send the planned auction requests on time, let actors send their beacons, then wait
        at most `finish_timeout_s` for the late ones (rewards come >= 12 s after a fill)."""
        if rate_per_s <= 0 or duration_s <= 0:
            raise ValueError("rate_per_s and duration_s must be positive")
        plan, skipped = self.plan(rate_per_s, duration_s, max_requests)
        report = IvtMixReport(skipped=skipped)
        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        if self.labels_path is not None:
            self._sink = self.labels_path.open("w")
        try:
            for offset, device in plan:
                await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
                task = asyncio.create_task(self._auction(device, report))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                _, pending = await asyncio.wait(set(tasks), timeout=finish_timeout_s)
                report.unfinished = len(pending)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=5)
        finally:
            if self._sink is not None:
                self._sink.close()
                self._sink = None
        report.duration_s = round(time.monotonic() - started, 2)
        return report

    def _record(
        self, report: IvtMixReport, device: Device, record: str, label: str, **ids: str | None
    ) -> None:
        line: dict[str, str] = {"record": record, "label": label}
        line.update({k: v for k, v in ids.items() if v})
        line["actor"] = device.kind
        self.labels.append(line)
        counts = report.records.setdefault(label, {})
        counts[record] = counts.get(record, 0) + 1
        if self._sink is not None:
            self._sink.write(json.dumps(line) + "\n")

    def _headers(self, device: Device, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        ip = device.ip or self._address(device.country)  # device_many_ips: a new one each time
        headers = {
            "User-Agent": device.user_agent,
            "X-Forwarded-For": ip,
            self.geo_header: device.country,
            **(extra or {}),
        }
        if device.platform == "web":
            headers["Accept-Language"] = f"{device.language},{device.language[:2]};q=0.9"
        return headers

    async def _auction(self, device: Device, report: IvtMixReport) -> None:
        kind = device.kind
        report.requests += 1
        report.requests_by_kind[kind] = report.requests_by_kind.get(kind, 0) + 1
        headers = self._headers(device)
        request_id = uuid.UUID(int=self._rng.getrandbits(128), version=4).hex
        prerender = False
        if device.platform == "web":
            placement_id, fmt = self._rng.choice(list(self.web_placements.items()))
            if kind == "prefetch":
                prerender = self._rng.random() < 0.5
                purpose = "prefetch;prerender" if prerender else "prefetch"
                headers.update({"Sec-Purpose": purpose, "Purpose": "prefetch"})
            if kind != "scripted_client" and self.web_origin:
                headers["Origin"] = self.web_origin
            path, body = "/auction", self._web_body(device, placement_id, fmt)
        else:
            placements = self.ios_placements if device.platform == "ios" else self.placements
            wanted = {"impossible_placement": "banner", "fast_reward": "rewarded"}.get(kind)
            choices = [(p, f) for p, f in placements.items() if wanted in (None, f)]
            placement_id, fmt = self._rng.choice(choices)
            if device.platform == "ios":
                headers["X-Api-Key"] = self.ios_sdk_key or ""
                body = self._ios_body(device, placement_id, fmt, request_id, headers)
            else:
                headers["X-Api-Key"] = self.sdk_key
                body = self._android_body(device, placement_id, fmt, request_id, headers)
            path = "/v1/auction"
        try:
            response = await self.client.post(path, json=body, headers=headers)
        except httpx.HTTPError:
            report.errors += 1
            return
        status = response.status_code
        report.statuses[status] = report.statuses.get(status, 0) + 1
        if status not in (200, 204):
            report.errors += 1
            return
        report.answered += 1
        tracking: dict[str, str] = {}
        auction_id: str | None = None
        if status == 200:
            answer = response.json()
            if device.platform == "web":
                request_id = str(answer.get("requestId") or request_id)
                if answer.get("fill"):
                    creative = answer.get("creative") or {}
                    web_tracking = creative.get("tracking") or {}
                    tracking = {
                        "imp": web_tracking.get("impression", ""),
                        "click": web_tracking.get("click", ""),
                    }
                    auction_id = auction_id_of(tracking["imp"])
            else:
                auction_id = answer.get("auction_id")
                # iOS reads the same body; the Android `winner` carries every beacon URL.
                tracking = dict((answer.get("winner") or {}).get("tracking") or {})
        label = HONEST if kind in ("fast_click", "fast_reward", "replayed_token") else kind
        self._record(report, device, "auction", label, auction_id=auction_id, request_id=request_id)
        if not tracking.get("imp") or not auction_id:
            return
        report.fills += 1
        beacon_headers = {k: v for k, v in headers.items() if k != "X-Api-Key"}
        beacon_headers.pop("Origin", None)
        await self._after_fill(device, fmt, auction_id, tracking, beacon_headers, prerender, report)

    async def _after_fill(
        self,
        device: Device,
        fmt: str,
        auction_id: str,
        tracking: Mapping[str, str],
        headers: dict[str, str],
        prerender: bool,
        report: IvtMixReport,
    ) -> None:
        kind, how, rng = device.kind, BEHAVIOURS[device.kind], self._rng
        show = prerender if kind == "prefetch" else rng.random() < how.show
        if not show:
            return
        await asyncio.sleep(rng.uniform(*how.show_delay))
        imp_label = kind
        if kind in ("fast_click", "fast_reward"):
            imp_label = HONEST
        elif kind == "replayed_token":
            imp_label = "replayed_token" if device.replayed else HONEST
        if not await self._beacon(tracking["imp"], headers, report):
            return
        self._record(report, device, event_names.IMPRESSION, imp_label, auction_id=auction_id)
        for _ in range(rng.randint(*how.replays) if how.replays[1] else 0):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            if await self._beacon(tracking["imp"], headers, report):
                device.replayed = True  # later impressions of this device are labelled
        if how.fast_reward is not None and fmt == "rewarded" and tracking.get("reward"):
            await asyncio.sleep(rng.uniform(*how.fast_reward))
            if await self._beacon(tracking["reward"], headers, report):
                self._record(report, device, event_names.REWARD, kind, auction_id=auction_id)
            return
        if fmt == "rewarded" and tracking.get("reward") and rng.random() < how.watch:
            await self._watch(device, auction_id, tracking, headers, report)
        # A click on the ad (for a rewarded video: on its end card, after the reward).
        if tracking.get("click") and rng.random() < how.click:
            await asyncio.sleep(rng.uniform(*how.click_delay))
            if await self._beacon(tracking["click"], headers, report):
                self._record(report, device, event_names.CLICK, kind, auction_id=auction_id)

    async def _watch(
        self,
        device: Device,
        auction_id: str,
        tracking: Mapping[str, str],
        headers: dict[str, str],
        report: IvtMixReport,
    ) -> None:
        """The video's progress beacons at their points in it, then the reward just after."""
        how = BEHAVIOURS[device.kind]
        length = self._rng.uniform(*how.video_s)
        elapsed = 0.0
        for n, step in enumerate(VIDEO_STEPS):
            at = max(0.3, length * n / (len(VIDEO_STEPS) - 1))
            await asyncio.sleep(at - elapsed)
            elapsed = at
            if step in tracking and await self._beacon(tracking[step], headers, report):
                record = event_names.VIDEO[step]
                self._record(report, device, record, device.kind, auction_id=auction_id)
        await asyncio.sleep(self._rng.uniform(0.3, 1.0))
        if await self._beacon(tracking["reward"], headers, report):
            self._record(report, device, event_names.REWARD, device.kind, auction_id=auction_id)

    async def _beacon(self, url: str, headers: Mapping[str, str], report: IvtMixReport) -> bool:
        parts = urlsplit(url)
        try:
            response = await self.client.get(f"{parts.path}?{parts.query}", headers=headers)
        except httpx.HTTPError:
            report.errors += 1
            return False
        if 200 <= response.status_code < 300 or response.status_code == 302:
            report.beacons += 1
            return True
        report.errors += 1
        return False

    # -- bodies ------------------------------------------------------------------------------------
    def _android_body(
        self,
        device: Device,
        placement_id: str,
        fmt: str,
        request_id: str,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        width, height = device.screen
        if device.kind == "impossible_placement":
            width, height = self._rng.choice(((0, 0), (100, 100)))
        return {
            "request_id": request_id,
            "placement_id": placement_id,
            "ad_type": fmt,
            "floor_cpm": 0.1,
            "timeout_ms": 800,
            "auction_type": "header_bidding",
            "metadata": {
                "gdpr_applies": "1" if device.gdpr else "0",
                "gdpr_consent": TCF_CONSENT if device.gdpr else "",
                "us_privacy": "1YNN" if device.country == "US" else "",
                "coppa": "0",
                "limit_ad_tracking": "1" if device.lat else "0",
            },
            "device_info": {
                "os": "android",
                "os_version": device.os_version,
                "make": device.make,
                "model": device.model,
                "screen_width": width,
                "screen_height": height,
                "language": device.language,
                "timezone": device.timezone,
                "connection_type": self._rng.choice(("wifi", "wifi", "cellular")),
                "ip": headers["X-Forwarded-For"],
                "user_agent": device.body_user_agent,
            },
            "user_info": {"limit_ad_tracking": device.lat, "advertising_id": device.ifa},
        }

    def _ios_body(
        self,
        device: Device,
        placement_id: str,
        fmt: str,
        request_id: str,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        width, height = device.screen
        return {
            "requestId": request_id,
            "placementId": placement_id,
            "adType": fmt,
            "device": {
                "platform": "iOS",
                "osVersion": device.os_version,
                "model": device.model,
                "language": device.language,
                "timezone": device.timezone,
                "screenWidth": width,
                "screenHeight": height,
                "screenScale": device.screen_scale,
                "attStatus": 2 if device.lat else 3,
                "limitAdTracking": device.lat,
                "idfa": device.ifa.upper(),
                "ip": headers["X-Forwarded-For"],
            },
            "app": {"bundleId": "com.example.puzzlequest", "version": "1.2", "build": "120"},
            "consent": {
                "gdpr_applies": "1" if device.gdpr else "0",
                "gdpr_consent": TCF_CONSENT if device.gdpr else "",
                "us_privacy": "1YNN" if device.country == "US" else "",
            },
        }

    def _web_body(self, device: Device, placement_id: str, fmt: str) -> dict[str, Any]:
        width, height = self._rng.choice(((300, 250), (320, 50), (728, 90)))
        request: dict[str, Any] = {"placement": placement_id, "adType": fmt}
        if fmt == "banner":
            request.update({"width": width, "height": height})
        meta: dict[str, Any] = {"sdk": {"name": "apex-web", "version": "1.4.0"}}
        meta["appId"] = self.web_app_id
        if self.web_publisher_id:
            meta["publisherId"] = self.web_publisher_id
        consent: dict[str, Any] = {"gdprApplies": device.gdpr}
        if device.gdpr:
            consent["tcfConsent"] = TCF_CONSENT
        elif device.country == "US":
            consent["usPrivacy"] = "1YNN"
        return {"request": request, "consent": consent, "meta": meta}


def auction_id_of(beacon_url: str) -> str | None:
    """The auction id inside a beacon URL's token (its payload is signed, not encrypted). The
    web answer names only the request; its tokens name the auction that events are keyed by."""
    token = (parse_qs(urlsplit(beacon_url).query).get("token") or [""])[0]
    payload = token.split(".", 1)[0]
    if not payload:
        return None
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return msgspec.msgpack.decode(raw, type=BeaconClaims).auction_id
    except (ValueError, msgspec.DecodeError):
        return None
