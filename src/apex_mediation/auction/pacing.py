"""Frequency capping and pacing per placement, counted per device through the cache.

Counted at impression time (`record_impression`) and checked at auction time (`check`): a device
over its hourly or daily cap, or within the minimum gap since its last impression, gets no
auction for this placement (outcome "capped").
"""

from __future__ import annotations

import hashlib
import time

from apex_mediation.auction.model import AuctionRequest
from apex_mediation.auction.snapshot import PlacementConfig
from apex_mediation.privacy.policy import truncate_ip
from apex_mediation.stores.cache import Cache

HOUR_S = 3600
DAY_S = 86_400


WEAK = "x"  # marks a key guessed from IP + user agent (not a hex digit, so never a hash's)


def device_key(request: AuctionRequest) -> str | None:
    """A stable per-device key: the advertising id, else the install id, else the IP's network
    + user agent (a guess: people behind one network with one phone model share it, so it is
    marked weak)."""
    device = request.device
    raw = device.ifa or request.install_id
    if raw is not None:
        return hash_device(raw)
    if device.ip:
        # Only the address's network (/24, /48) goes in: the key is stored with every event,
        # and a plain hash of the full address is reversed by trying every address.
        try:
            network = truncate_ip(device.ip)
        except ValueError:
            return None
        return WEAK + hash_device(f"{network}|{device.user_agent or ''}")[1:]
    return None


def strong_device(key: str | None) -> str | None:
    """The key if it names one device (an advertising or install id), else None: per-device
    rates over a guessed key would count a whole NAT as one device."""
    return key if key and not key.startswith(WEAK) else None


def hash_device(raw: str) -> str:
    """The device key of an advertising or install id (block-lists name devices that way)."""
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _keys(placement_id: str, device: str, now: float) -> tuple[str, str, str]:
    hour, day = int(now // HOUR_S), int(now // DAY_S)
    base = f"fcap:{placement_id}:{device}"
    return f"{base}:h{hour}", f"{base}:d{day}", f"{base}:last"


def has_caps(placement: PlacementConfig) -> bool:
    return bool(placement.fcap_per_hour or placement.fcap_per_day or placement.min_interval_s)


async def check(
    cache: Cache, placement: PlacementConfig, device: str | None, now: float | None = None
) -> str | None:
    """The reason this device is capped on this placement, or None."""
    if device is None or not has_caps(placement):
        return None
    now = time.time() if now is None else now
    hour_key, day_key, last_key = _keys(placement.id, device, now)
    if placement.fcap_per_hour:
        count = int(await cache.get(hour_key) or 0)
        if count >= placement.fcap_per_hour:
            return f"{count} impressions this hour (cap {placement.fcap_per_hour})"
    if placement.fcap_per_day:
        count = int(await cache.get(day_key) or 0)
        if count >= placement.fcap_per_day:
            return f"{count} impressions today (cap {placement.fcap_per_day})"
    if placement.min_interval_s:
        last = await cache.get(last_key)
        if last is not None and now - float(last) < placement.min_interval_s:
            gap = now - float(last)
            return f"last impression {gap:.0f}s ago (minimum {placement.min_interval_s}s)"
    return None


async def record_impression(
    cache: Cache, placement: PlacementConfig, device: str | None, now: float | None = None
) -> None:
    if device is None or not has_caps(placement):
        return
    now = time.time() if now is None else now
    hour_key, day_key, last_key = _keys(placement.id, device, now)
    if placement.fcap_per_hour:
        await cache.incr(hour_key, ttl_s=HOUR_S)
    if placement.fcap_per_day:
        await cache.incr(day_key, ttl_s=DAY_S)
    if placement.min_interval_s:
        await cache.set(last_key, repr(now).encode(), ttl_s=placement.min_interval_s)
