"""SDK telemetry and crash reports; SDK versions seen per app."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY
from sqlalchemy import select

from apex_mediation.db.models import SdkVersionSeen
from apex_mediation.services import Services
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body


def _crashes(version: str) -> float:
    value = REGISTRY.get_sample_value(
        "sdk_crashes_total", {"platform": "android", "sdk_version": version}
    )
    return value or 0.0


async def test_events_and_crashes_are_stored_once(market: Market, services: Services) -> None:
    version = f"9.9.{uuid.uuid4().hex[:6]}"
    batch = {
        "sdk": {"platform": "android", "version": version},
        "events": [
            {"eventId": "e-1", "event": "init", "detail": "cold start 120ms"},
            {"eventId": "e-2", "event": "crash", "detail": "NullPointerException"},
        ],
    }
    assert (await market.post("/v1/telemetry", batch)).status_code == 204
    assert (await market.post("/v1/telemetry", batch)).status_code == 204  # a retried batch
    assert _crashes(version) == 2  # the counter counts reports; storage dedupes by event id
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()
    rows = await services.analytics.query(
        "SELECT event, count() AS c FROM sdk_telemetry FINAL WHERE sdk_version = {v:String} "
        "GROUP BY event ORDER BY event",
        {"v": version},
    )
    assert rows == [{"event": "crash", "c": 1}, {"event": "init", "c": 1}]


async def test_bad_telemetry_is_a_400(market: Market) -> None:
    empty = await market.post(
        "/v1/telemetry", {"sdk": {"platform": "ios", "version": "1"}, "events": []}
    )
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("events")
    missing = await market.post("/v1/telemetry", {"events": [{"event": "x"}]})
    assert missing.status_code == 400 and "sdk" in missing.json()["error"]["message"]


async def test_sdk_versions_seen_are_counted_per_app(market: Market, services: Services) -> None:
    placement = await market.placement()
    for _ in range(3):
        await market.post("/v1/auction", android_body(placement, sdk_version="4.2.0"))
    await market.app.state.auction.sdk_versions.flush()
    async with services.postgres.session() as session:
        seen = await session.scalar(
            select(SdkVersionSeen).where(
                SdkVersionSeen.app_id == uuid.UUID(market.app_id),
                SdkVersionSeen.sdk_version == "4.2.0",
            )
        )
    assert seen is not None and seen.requests == 3 and seen.sdk_platform == "android"
