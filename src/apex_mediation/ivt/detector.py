"""The IVT checks at the two places traffic arrives: before an auction calls any bidder, and
when a beacon is counted. GIVT comes from declarations and lists (user agent, data-centre
ranges, pre-fetch, impossible placements, block-lists), SIVT from behaviour (behaviour.py) and
from the auction's own verdict, which its beacons carry in their signed token.

Nothing here reads a database or the network: the policy is in memory (config.py), windows are
in the cache. The HTTP layer turns a request into signals; this module knows no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from apex_mediation.auction.pacing import strong_device
from apex_mediation.ivt.behaviour import Behaviour
from apex_mediation.ivt.config import IvtConfig, IvtConfigStore
from apex_mediation.ivt.geo import geo_mismatch
from apex_mediation.ivt.ranges import IpRanges
from apex_mediation.ivt.scoring import CLEAN, Verdict, bits_to_reasons, combine
from apex_mediation.ivt.user_agents import classify
from apex_mediation.stores.cache import Cache
from apex_mediation.tracking import event_names
from apex_mediation.tracking.tokens import BeaconClaims

_UA_REASONS = {
    "bot": "declared_bot",
    "spider": "declared_bot",
    "headless": "headless_browser",
    "script": "scripted_client",
}
MIN_SCREEN_PX = 120  # no device that shows ads has a side this short (a watch has ~180)


@dataclass(frozen=True)
class RequestSignals:
    """What an ad request tells about where it comes from."""

    publisher_id: str
    app_id: str
    ip: str | None
    user_agent: str | None
    sdk_endpoint: bool  # an app SDK (native HTTP clients are normal) or the web SDK (browsers)
    device_key: str | None
    geo_country: str | None  # from the trusted geo header
    declared_country: str | None  # as the device declared it
    timezone: str | None
    prefetch: bool = False
    screen_width: int | None = None
    screen_height: int | None = None
    ad_width: int | None = None  # the ad's width in points, when the format fixes one


@dataclass(frozen=True)
class EventSignals:
    claims: BeaconClaims
    event: str
    publisher_id: str
    ip: str | None
    user_agent: str | None
    sdk_endpoint: bool
    issued_at: float  # when the token was signed, i.e. when its auction ran
    # The cache key under which the beacon path keeps when this token's impression was seen
    # (its dedupe entry): clicks and rewards are timed against it.
    impression_key: str = ""


class IvtDetector:
    def __init__(
        self,
        config: IvtConfigStore,
        cache: Cache,
        started_at: float,
        ip_secret: bytes | None = None,
    ) -> None:
        self.config = config
        self.behaviour = Behaviour(cache, ip_secret=ip_secret)
        # Auctions before this moment may be unknown to an in-process cache after a restart:
        # "no prior auction" is only concluded for tokens issued since.
        self.started_at = started_at

    async def check_request(self, s: RequestSignals, now: float) -> Verdict:
        config = self.config.current
        if config.listed(config.allow, s.publisher_id, s.ip, s.device_key, s.app_id):
            return CLEAN
        reasons = self._declared(config, s.publisher_id, s.app_id, s.ip, s.device_key,
                                 s.user_agent, s.sdk_endpoint)  # fmt: skip
        public_ip = _public(s.ip)
        if s.prefetch:
            reasons.append("prefetch")
        if _impossible_screen(s.screen_width, s.screen_height, s.ad_width):
            reasons.append("impossible_placement")
        if geo_mismatch(s.geo_country, s.declared_country, s.timezone):
            reasons.append("geo_mismatch")
        reasons += await self.behaviour.request(s.device_key, public_ip, now)
        return combine(reasons, config.weights)

    async def saw_auction(self, auction_id: str, ttl_s: float) -> None:
        """Remember that this server ran the auction, for its beacons' "no prior auction"."""
        await self.behaviour.saw_auction(auction_id, ttl_s)

    async def check_event(self, s: EventSignals, now: float) -> Verdict:
        config = self.config.current
        claims = s.claims
        device = strong_device(claims.device_key) or ""
        if config.listed(config.allow, s.publisher_id, s.ip, device or None, claims.app_id):
            return CLEAN
        # The auction's verdict comes along: an impression of a flagged request is invalid too.
        reasons = list(bits_to_reasons(claims.ivt_bits))
        reasons += self._declared(config, s.publisher_id, claims.app_id, s.ip, device or None,
                                  s.user_agent, s.sdk_endpoint)  # fmt: skip
        if s.issued_at >= self.started_at and not await self.behaviour.knows_auction(
            claims.auction_id
        ):
            reasons.append("no_prior_auction")
        shown = s.impression_key
        if s.event == event_names.IMPRESSION:
            reasons += await self.behaviour.impression(device, now)
        elif s.event == event_names.CLICK:
            reasons += await self.behaviour.click(device, shown, now)
        elif s.event in (event_names.REWARD, event_names.VIDEO_COMPLETE):
            reasons += await self.behaviour.reward(shown, now)
        reasons += await self.behaviour.event(device)
        return combine(reasons, config.weights)

    async def replayed(self, claims: BeaconClaims) -> None:
        await self.behaviour.replayed(strong_device(claims.device_key) or "")

    @staticmethod
    def _declared(
        config: IvtConfig, publisher_id: str, app_id: str, ip: str | None,
        device_key: str | None, user_agent: str | None, sdk_endpoint: bool,
    ) -> list[str]:  # fmt: skip
        """GIVT by declaration and origin: block-lists, user agent, data-centre ranges."""
        reasons: list[str] = []
        if config.listed(config.block, publisher_id, ip, device_key, app_id):
            reasons.append("blocklisted")
        kind = classify(user_agent, sdk_endpoint=sdk_endpoint)
        if kind is not None:
            reasons.append(_UA_REASONS[kind])
        public_ip = _public(ip)
        if public_ip is not None and config.datacenter.lookup(public_ip):
            reasons.append("datacenter_ip")
        return reasons


# Addresses that are not a client's on the internet (IANA special-purpose registries): looked
# up like the data-centre ranges, a bisect over integers, ~0.5 us (ipaddress' is_global: ~20).
_NOT_PUBLIC = IpRanges(
    (cidr, "special")
    for cidr in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/127", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7",
        "fe80::/10", "ff00::/8",
    )
)  # fmt: skip


def _public(ip: str | None) -> str | None:
    """The address if it is a public one. A loopback or private address is a proxy's that did
    not forward the client's (or a test): rates and ranges by address say nothing then. An
    unparseable address is not public either."""
    if ip is None or _NOT_PUBLIC.lookup(ip) is not None or not _parses(ip):
        return None
    return ip


def _parses(ip: str) -> bool:
    return _ANY.lookup(ip) is not None


_ANY = IpRanges([("0.0.0.0/0", "any"), ("::/0", "any")])  # matches every parseable address


def _impossible_screen(width: int | None, height: int | None, ad_width: int | None = None) -> bool:
    """A screen too small for any ad, or narrower in pixels, both ways up, than the ad is in
    density-independent points (a screen has at least as many pixels as points)."""
    if any(side is not None and side < MIN_SCREEN_PX for side in (width, height)):
        return True
    if ad_width and width is not None and height is not None:
        return max(width, height) < ad_width
    return False
