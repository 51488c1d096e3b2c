"""`POST /v1/telemetry`: SDK events and crash reports, authenticated by the app's SDK key.

Body: `{"sdk": {"platform", "version"}, "events": [{"eventId"?, "event", "detail"?}]}` with at
most 100 events; a `crash` event counts in `sdk_crashes_total`. Events go through the durable
ingest log into `sdk_telemetry`, idempotent by event id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import msgspec
from prometheus_client import Counter
from starlette.responses import Response

from apex_mediation.sdk.errors import SdkError, error_response
from apex_mediation.sdk.runtime import AuctionRuntime
from apex_mediation.stores.cache import Cache
from apex_mediation.tracking.shipper import encode

sdk_crashes_total = Counter(
    "sdk_crashes_total", "Crash reports sent by SDKs", ["platform", "sdk_version"]
)
MAX_EVENTS = 100
DEDUPE_S = 86_400


class TelemetrySdk(msgspec.Struct, kw_only=True):
    platform: str
    version: str


class TelemetryEvent(msgspec.Struct, kw_only=True, rename="camel"):
    event: str
    event_id: str | None = None
    detail: str | None = None


class TelemetryBatch(msgspec.Struct, kw_only=True):
    sdk: TelemetrySdk
    events: list[TelemetryEvent]


def rows(batch: TelemetryBatch, publisher_id: str, app_id: str) -> list[dict[str, object]]:
    if not 0 < len(batch.events) <= MAX_EVENTS:
        raise ValueError(f"events: between 1 and {MAX_EVENTS} events per request")
    now = dt.datetime.now(dt.UTC)
    platform, version = batch.sdk.platform[:32].lower(), batch.sdk.version[:64]
    out = []
    for index, event in enumerate(batch.events):
        if not event.event or len(event.event) > 64:
            raise ValueError(f"events[{index}].event: 1 to 64 characters")
        if event.event == "crash":
            sdk_crashes_total.labels(platform, version).inc()
        out.append(
            {
                "event_id": (event.event_id or uuid.uuid4().hex)[:64],
                "received_at": now,
                "publisher_id": publisher_id,
                "app_id": app_id,
                "sdk_platform": platform,
                "sdk_version": version,
                "event": event.event,
                "detail": (event.detail or "")[:8192],
            }
        )
    return out


async def accept(
    runtime: AuctionRuntime, cache: Cache, batch: TelemetryBatch, publisher_id: str, app_id: str
) -> Response:
    try:
        events = rows(batch, publisher_id, app_id)
    except ValueError as exc:
        return error_response(400, SdkError.INVALID_REQUEST, str(exc))
    # A retried batch carries the same event ids: each is stored once.
    fresh = [
        row
        for row in events
        if await cache.add(f"tel:{app_id}:{row['event_id']}", b"1", ttl_s=DEDUPE_S)
    ]
    # Appended together: one group commit for the whole batch.
    await asyncio.gather(*(runtime.ingest.append(encode("sdk_telemetry", row)) for row in fresh))
    runtime.sdk_versions.saw(app_id, batch.sdk.platform.lower(), batch.sdk.version)
    return Response(status_code=204)
