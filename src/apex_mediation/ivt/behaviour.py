"""SIVT from behaviour over sliding windows, through the cache interface (in-process, or Redis
shared by every process when REDIS_URL is set).

Limits are set well above what a person does, because each is evidence, not proof: a family
behind one address, a phone moving between Wi-Fi and mobile data, a quick tap. The weights in
reasons.py decide whether one signal alone blocks (device_rate, click_burst) or only flags.

A device or an address that trips a behavioural limit stays suspect for a while (`SUSPECT_S`):
its next requests and events carry the same reason. A bot does not slow down once it is over
the limit, and its impressions arrive after the auction that tripped it; without the memory,
everything it sent up to the limit, and every beacon of those auctions, would count.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from apex_mediation.compliance.ip_hashing import IpHasher
from apex_mediation.stores.cache import Cache

PREFIX = "ivt:"
SUSPECT_S = 600.0


@dataclass(frozen=True)
class Limits:
    # Short windows catch a bot within seconds; the limits are what no person reaches even
    # briefly: an app asks for an ad every several seconds at most, a feed shows a few.
    window_s: float = 10.0
    device_requests: int = 6  # per window
    # Per window. Carrier NAT puts many people behind one address, hence a signal that only
    # flags (weight 0.6); an operator with much carrier traffic can lower its weight to 0.
    ip_requests: int = 20
    device_impressions: int = 6  # per window
    device_ips_per_10min: int = 4  # Wi-Fi, mobile data, back to Wi-Fi, one hand-over
    device_clicks_per_min: int = 3
    fast_click_s: float = 1.0  # a person needs about a second to see and tap
    fast_reward_s: float = 5.0  # the shortest rewarded videos run 5 s and more


DEFAULT_LIMITS = Limits()


class Behaviour:
    def __init__(
        self, cache: Cache, limits: Limits = DEFAULT_LIMITS, ip_secret: bytes | None = None
    ) -> None:
        self.cache = cache
        self.limits = limits
        # Addresses are keyed by their daily HMAC, never stored raw (a shared cache is a store):
        # processes sharing a cache must share the secret; alone, a random one does.
        self._hash_ip = IpHasher(ip_secret or secrets.token_bytes(32))

    # -- suspicion that outlives the window -------------------------------------------------
    async def _suspect(self, key: str, reasons: list[str]) -> None:
        if reasons:
            await self.cache.set(f"{PREFIX}sus:{key}", ",".join(reasons).encode(), SUSPECT_S)

    async def suspicion(self, key: str) -> list[str]:
        """The reasons a device (its key) or an address ("ip:" + its hash) is suspect for."""
        stored = await self.cache.get(f"{PREFIX}sus:{key}")
        return stored.decode().split(",") if stored else []

    # -- requests ---------------------------------------------------------------------------
    async def request(self, device_key: str | None, ip: str | None, now: float) -> list[str]:
        reasons: list[str] = []
        limits = self.limits
        if ip:
            ip = self._hash_ip(ip, dt.datetime.fromtimestamp(now, dt.UTC))
        if device_key:
            found = []
            hits = await self.cache.hit_window(f"{PREFIX}dr:{device_key}", limits.window_s, now)
            if hits > limits.device_requests:
                found.append("device_rate")
            if ip and await self._distinct_ips(device_key, ip, now) > limits.device_ips_per_10min:
                found.append("device_many_ips")
            await self._suspect(device_key, found)
            # A replayed beacon condemns the device's beacons, not its ad requests.
            earlier = [r for r in await self.suspicion(device_key) if r != "replayed_token"]
            reasons += found or earlier
        if ip:
            hits = await self.cache.hit_window(f"{PREFIX}ir:{ip}", limits.window_s, now)
            if hits > limits.ip_requests:
                await self._suspect(f"ip:{ip}", ["ip_rate"])
                reasons.append("ip_rate")
            else:
                reasons += await self.suspicion(f"ip:{ip}")
        return reasons

    async def _distinct_ips(self, device_key: str, ip: str, now: float) -> int:
        """Addresses seen for the device in 10 minutes: a window hit per new address only."""
        count_key = f"{PREFIX}dipn:{device_key}"
        if await self.cache.add(f"{PREFIX}dip:{device_key}:{ip}", b"1", ttl_s=600.0):
            count = await self.cache.hit_window(f"{PREFIX}dips:{device_key}", 600.0, now)
            await self.cache.set(count_key, str(count).encode(), ttl_s=600.0)
            return count
        stored = await self.cache.get(count_key)
        return int(stored) if stored else 1

    # -- events -----------------------------------------------------------------------------
    async def event(self, device_key: str) -> list[str]:
        """What the device is suspect for (a limit it tripped, a token it replayed)."""
        return await self.suspicion(device_key) if device_key else []

    async def impression(self, device_key: str, now: float) -> list[str]:
        if not device_key:
            return []
        window = self.limits.window_s
        hits = await self.cache.hit_window(f"{PREFIX}di:{device_key}", window, now)
        found = ["impression_rate"] if hits > self.limits.device_impressions else []
        await self._suspect(device_key, found)
        return found

    async def since_impression(self, impression_key: str, now: float) -> float | None:
        """Seconds since the impression was counted: its key holds the time it was seen (or
        an older marker without one, which times nothing)."""
        stored = await self.cache.get(impression_key) if impression_key else None
        try:
            seen = float(stored) if stored else None
        except ValueError:
            return None
        return now - seen if seen is not None and seen > 1 else None

    async def click(self, device_key: str, shown_key: str, now: float) -> list[str]:
        reasons: list[str] = []
        elapsed = await self.since_impression(shown_key, now)
        if elapsed is not None and elapsed < self.limits.fast_click_s:
            reasons.append("fast_click")
        if device_key:
            hits = await self.cache.hit_window(f"{PREFIX}dc:{device_key}", 60.0, now)
            if hits > self.limits.device_clicks_per_min:
                await self._suspect(device_key, ["click_burst"])
                reasons.append("click_burst")
        return reasons

    async def reward(self, shown_key: str, now: float) -> list[str]:
        elapsed = await self.since_impression(shown_key, now)
        fast = elapsed is not None and elapsed < self.limits.fast_reward_s
        return ["fast_reward"] if fast else []

    async def replayed(self, device_key: str) -> None:
        """A token sent again: the replay itself is not stored, so the evidence lands on the
        device's next events."""
        if device_key:
            await self._suspect(device_key, ["replayed_token"])

    async def saw_auction(self, auction_id: str, ttl_s: float) -> None:
        await self.cache.set(f"{PREFIX}auc:{auction_id}", b"1", ttl_s=ttl_s)

    async def knows_auction(self, auction_id: str) -> bool:
        return await self.cache.get(f"{PREFIX}auc:{auction_id}") is not None
