"""Frequency caps per device: hourly, daily and the minimum gap between impressions."""

from __future__ import annotations

import dataclasses

from apex_mediation.auction import pacing
from apex_mediation.auction.snapshot import PlacementConfig
from apex_mediation.stores.cache import MemoryCache

BASE = PlacementConfig(
    id="p",
    app_id="a",
    publisher_id="pub",
    name="p",
    format="banner",
    floor_micros=0,
    country_floors={},
    timeout_ms=800,
    auction_type="first_price",
    refresh_interval_s=None,
    fcap_per_hour=None,
    fcap_per_day=None,
    min_interval_s=None,
    enabled=True,
    config_version=1,
    bidding=(),
    waterfall=(),
)


async def test_hourly_and_daily_caps() -> None:
    cache = MemoryCache(prefix="t:")
    placement = dataclasses.replace(BASE, fcap_per_hour=2, fcap_per_day=3)
    now = 1_000_000.0
    for offset in (0, 10):
        assert await pacing.check(cache, placement, "dev", now + offset) is None
        await pacing.record_impression(cache, placement, "dev", now + offset)
    assert "this hour" in (await pacing.check(cache, placement, "dev", now + 20) or "")
    next_hour = now + 3600
    assert await pacing.check(cache, placement, "dev", next_hour) is None
    await pacing.record_impression(cache, placement, "dev", next_hour)
    assert "today" in (await pacing.check(cache, placement, "dev", next_hour + 1) or "")
    assert await pacing.check(cache, placement, "other-device", now) is None


async def test_minimum_gap_and_no_caps() -> None:
    cache = MemoryCache(prefix="t:")
    placement = dataclasses.replace(BASE, min_interval_s=30)
    await pacing.record_impression(cache, placement, "dev", 100.0)
    assert "minimum 30s" in (await pacing.check(cache, placement, "dev", 110.0) or "")
    assert await pacing.check(cache, placement, "dev", 131.0) is None
    assert await pacing.check(cache, BASE, "dev", 110.0) is None  # no caps configured
    assert await pacing.check(cache, placement, None, 110.0) is None  # no device key
