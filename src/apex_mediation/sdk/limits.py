"""Request-rate limits on the SDK endpoints, per app and per client IP.

Fixed one-second windows (one counter per key and second, the cheapest strategy for the hot
path), sized for SDK traffic: an app with many installs sends thousands of requests a second,
so these are never the console's limits. Counted by the process's `RateLimiter`, shared through
Redis when `REDIS_URL` is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from limits import RateLimitItem, RateLimitItemPerSecond

from apex_mediation.stores.rate_limiter import RateLimiter, Strategy


@dataclass(frozen=True)
class SdkLimits:
    per_app_per_s: int = 5000
    per_ip_per_s: int = 50
    app_rates: list[RateLimitItem] = field(init=False, repr=False, compare=False)
    ip_rates: list[RateLimitItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once per configuration, not per request.
        object.__setattr__(self, "app_rates", [RateLimitItemPerSecond(self.per_app_per_s)])
        object.__setattr__(self, "ip_rates", [RateLimitItemPerSecond(self.per_ip_per_s)])


async def over_limit(
    limiter: RateLimiter, limits: SdkLimits, app_id: str, ip: str | None
) -> int | None:
    """Seconds to wait (for Retry-After) if this request is over a limit, else None."""
    wait = await limiter.retry_after(limits.app_rates, "sdk-app", app_id, strategy=Strategy.FIXED)
    if wait is None and ip:
        wait = await limiter.retry_after(limits.ip_rates, "sdk-ip", ip, strategy=Strategy.FIXED)
    return wait
