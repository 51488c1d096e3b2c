"""Rows for the raw tables, every column given, and one seeded data set with known totals."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from apex_mediation.stores.analytics import Analytics

# Three days ago: inside the raw tables' TTLs (auctions keep 90 days), whole hours from here.
DAY = datetime.combine(datetime.now(UTC).date() - timedelta(days=3), time(tzinfo=UTC))
NEXT_DAY = DAY + timedelta(days=1)


def event(
    publisher_id: uuid.UUID,
    *,
    at: datetime,
    app_id: uuid.UUID,
    placement_id: uuid.UUID,
    kind: str = "impression",
    network: str = "admob",
    country: str = "US",
    format: str = "banner",
    cpm_micros: int = 0,
    test: int = 0,
    ivt: int = 0,
    device_key: str = "",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or secrets.token_hex(8),
        "event": kind,
        "received_at": at,
        "auction_id": secrets.token_hex(8),
        "bid_id": secrets.token_hex(4),
        "publisher_id": str(publisher_id),
        "app_id": str(app_id),
        "placement_id": str(placement_id),
        "network": network,
        "format": format,
        "platform": "android",
        "country": country,
        "cpm_micros": cpm_micros,
        "currency": "USD",
        "test": test,
        "ivt": ivt,
        "device_key": device_key,
    }


def auction(
    publisher_id: uuid.UUID,
    *,
    at: datetime,
    app_id: uuid.UUID,
    placement_id: uuid.UUID,
    winner: str = "",
    country: str = "US",
    format: str = "banner",
    test: int = 0,
) -> dict[str, Any]:
    """A filled auction when `winner` names a network."""
    return {
        "auction_id": secrets.token_hex(8),
        "received_at": at,
        "request_id": secrets.token_hex(8),
        "publisher_id": str(publisher_id),
        "app_id": str(app_id),
        "placement_id": str(placement_id),
        "format": format,
        "platform": "android",
        "country": country,
        "sdk_version": "1.0.0",
        "auction_type": "first_price",
        "floor_micros": 0,
        "tmax_ms": 800,
        "duration_ms": 12.5,
        "filled": 1 if winner else 0,
        "winner_network": winner,
        "winner_kind": "bidding" if winner else "",
        "clearing_price_micros": 0,
        "candidates": 2,
        "no_fill_reason": "" if winner else "no_bid",
        "test": test,
    }


@dataclass
class Seeded:
    """Ids of the standard data set; its totals are spelled out in `seed`."""

    publisher_id: uuid.UUID
    app1: uuid.UUID = field(default_factory=uuid.uuid4)
    app2: uuid.UUID = field(default_factory=uuid.uuid4)
    placement1: uuid.UUID = field(default_factory=uuid.uuid4)
    placement2: uuid.UUID = field(default_factory=uuid.uuid4)


async def seed(analytics: Analytics, publisher_id: uuid.UUID | str) -> Seeded:
    """Over DAY and NEXT_DAY, counting neither test nor invalid traffic:

    impressions 4 (admob 3, applovin 1), clicks 1, video completes 1, rewards 1;
    cpm_micros 10_500_001, so revenue 10_500 micros and eCPM 2_625_000 micros;
    requests 7, fills 4 (admob 3, applovin 1); devices: DAY {d1, d2}, NEXT_DAY {d3}.
    """
    s = Seeded(uuid.UUID(str(publisher_id)))
    p = s.publisher_id
    one = {"app_id": s.app1, "placement_id": s.placement1}
    two = {"app_id": s.app2, "placement_id": s.placement2}
    at10, at11, next9 = (
        DAY + timedelta(hours=10),
        DAY + timedelta(hours=11),
        NEXT_DAY + timedelta(hours=9),
    )
    events = [
        event(p, at=at10 + timedelta(minutes=15), **one, cpm_micros=2_000_000, device_key="d1"),
        event(p, at=at10 + timedelta(minutes=16), **one, cpm_micros=3_000_000, device_key="d2"),
        event(
            p,
            at=at10 + timedelta(minutes=17),
            **one,
            kind="click",
            cpm_micros=3_000_000,
            device_key="d1",
        ),
        event(
            p,
            at=at11 + timedelta(minutes=30),
            **one,
            network="applovin",
            country="DE",
            format="interstitial",
            cpm_micros=1_500_000,
            device_key="d1",
        ),
        event(
            p,
            at=at11 + timedelta(minutes=31),
            **one,
            kind="video_complete",
            network="applovin",
            country="DE",
            format="interstitial",
            cpm_micros=1_500_000,
            device_key="d1",
        ),
        event(
            p,
            at=at11 + timedelta(minutes=32),
            **one,
            kind="reward",
            network="applovin",
            country="DE",
            format="interstitial",
            cpm_micros=1_500_000,
            device_key="d1",
        ),
        event(
            p,
            at=at11 + timedelta(minutes=33),
            **one,
            kind="video_first_quartile",
            network="applovin",
            country="DE",
            format="interstitial",
            device_key="d1",
        ),
        event(
            p,
            at=next9 + timedelta(minutes=5),
            **two,
            format="rewarded",
            cpm_micros=4_000_001,
            device_key="d3",
        ),
        # Excluded everywhere: test traffic and invalid traffic, with devices of their own.
        event(p, at=at10, **one, cpm_micros=9_000_000, test=1, device_key="d8"),
        event(p, at=at10, **one, cpm_micros=8_000_000, ivt=1, device_key="d9"),
        event(p, at=at10, **one, kind="click", ivt=1, device_key="d9"),
    ]
    auctions = [
        *(auction(p, at=at10 + timedelta(minutes=10), **one, winner="admob") for _ in range(2)),
        *(auction(p, at=at10 + timedelta(minutes=10), **one) for _ in range(2)),
        auction(
            p,
            at=at11 + timedelta(minutes=20),
            **one,
            winner="applovin",
            country="DE",
            format="interstitial",
        ),
        auction(p, at=next9, **two, winner="admob", format="rewarded"),
        auction(p, at=next9, **two, format="rewarded"),
        auction(p, at=at10, **one, winner="admob", test=1),
    ]
    await analytics.insert("events", events)
    await analytics.insert("auctions", auctions)
    return s
