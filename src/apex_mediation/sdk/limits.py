"""Request-rate limits on the SDK endpoints, per app and per client IP, through the cache.

Fixed one-second windows: one atomic increment per key and request. Sized for SDK traffic (an
app with many installs sends thousands of requests a second), never the console's limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apex_mediation.stores.cache import Cache


@dataclass(frozen=True)
class SdkLimits:
    per_app_per_s: int = 5000
    per_ip_per_s: int = 50


async def over_limit(cache: Cache, limits: SdkLimits, app_id: str, ip: str | None) -> int | None:
    """Seconds to wait (for Retry-After) if this request is over a limit, else None."""
    window = int(time.time())
    if await cache.incr(f"rl:sdk:app:{app_id}:{window}", ttl_s=2) > limits.per_app_per_s:
        return 1
    if ip and await cache.incr(f"rl:sdk:ip:{ip}:{window}", ttl_s=2) > limits.per_ip_per_s:
        return 1
    return None
