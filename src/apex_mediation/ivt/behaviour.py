"""SIVT from behaviour over sliding windows, through the cache interface (in-process, or Redis
shared by every process when REDIS_URL is set).

Limits are set well above what a person does, because each is evidence, not proof: a family
behind one address, a phone moving between Wi-Fi and mobile data, a quick tap. The weights in
reasons.py decide whether one signal alone blocks (device_rate, click_burst) or only flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from apex_mediation.stores.cache import Cache

PREFIX = "ivt:"


@dataclass(frozen=True)
class Limits:
    # Short windows catch a bot within seconds; the limits are what no person reaches even
    # briefly: an app asks for an ad every several seconds at most, a feed shows a few.
    window_s: float = 10.0
    device_requests: int = 10  # per window: one a second, sustained
    ip_requests: int = 40  # per window: carrier NAT puts many people behind one address
    device_impressions: int = 8  # per window
    device_ips_per_10min: int = 6  # Wi-Fi, mobile data, a few hand-overs
    device_clicks_per_min: int = 4
    fast_click_s: float = 1.0  # a person needs about a second to see and tap
    fast_reward_s: float = 5.0  # the shortest rewarded videos run 5 s and more
    replay_memory_s: float = 3600.0  # a device that replayed a token stays suspect this long


DEFAULT_LIMITS = Limits()


class Behaviour:
    def __init__(self, cache: Cache, limits: Limits = DEFAULT_LIMITS) -> None:
        self.cache = cache
        self.limits = limits

    async def request(self, device_key: str | None, ip: str | None, now: float) -> list[str]:
        reasons: list[str] = []
        limits = self.limits
        if device_key:
            hits = await self.cache.hit_window(f"{PREFIX}dr:{device_key}", limits.window_s, now)
            if hits > limits.device_requests:
                reasons.append("device_rate")
            if ip and await self._distinct_ips(device_key, ip, now) > limits.device_ips_per_10min:
                reasons.append("device_many_ips")
        if ip:
            hits = await self.cache.hit_window(f"{PREFIX}ir:{ip}", limits.window_s, now)
            if hits > limits.ip_requests:
                reasons.append("ip_rate")
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

    async def impression(self, device_key: str, shown_key: str, now: float) -> list[str]:
        await self.cache.set(f"{PREFIX}imp:{shown_key}", repr(now).encode(), ttl_s=3600.0)
        if not device_key:
            return []
        window = self.limits.window_s
        hits = await self.cache.hit_window(f"{PREFIX}di:{device_key}", window, now)
        return ["impression_rate"] if hits > self.limits.device_impressions else []

    async def since_impression(self, shown_key: str, now: float) -> float | None:
        stored = await self.cache.get(f"{PREFIX}imp:{shown_key}")
        return now - float(stored) if stored else None

    async def click(self, device_key: str, shown_key: str, now: float) -> list[str]:
        reasons: list[str] = []
        elapsed = await self.since_impression(shown_key, now)
        if elapsed is not None and elapsed < self.limits.fast_click_s:
            reasons.append("fast_click")
        if device_key:
            hits = await self.cache.hit_window(f"{PREFIX}dc:{device_key}", 60.0, now)
            if hits > self.limits.device_clicks_per_min:
                reasons.append("click_burst")
        return reasons

    async def reward(self, shown_key: str, now: float) -> list[str]:
        elapsed = await self.since_impression(shown_key, now)
        fast = elapsed is not None and elapsed < self.limits.fast_reward_s
        return ["fast_reward"] if fast else []

    async def replayed(self, device_key: str) -> None:
        """A token sent again: the device is suspect for a while (the replay itself is not
        stored, so the evidence lands on the device's next events)."""
        if device_key:
            ttl = self.limits.replay_memory_s
            await self.cache.set(f"{PREFIX}replayer:{device_key}", b"1", ttl_s=ttl)

    async def is_replayer(self, device_key: str) -> bool:
        if not device_key:
            return False
        return await self.cache.get(f"{PREFIX}replayer:{device_key}") is not None

    async def saw_auction(self, auction_id: str, ttl_s: float) -> None:
        await self.cache.set(f"{PREFIX}auc:{auction_id}", b"1", ttl_s=ttl_s)

    async def knows_auction(self, auction_id: str) -> bool:
        return await self.cache.get(f"{PREFIX}auc:{auction_id}") is not None
