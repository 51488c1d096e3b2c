"""Tracking beacons: `/t/imp`, `/t/click`, `/t/reward`, `/t/video/{event}` and the creative URL.

Verify the token, count a replayed token once (the event id is derived from the token, deduped
through the cache for longer than a token lives), then append durably: the 2xx is sent only once
the event is on disk. Price, placement and everything else counted come from the token alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from apex_mediation.auction import pacing
from apex_mediation.ivt.detector import EventSignals
from apex_mediation.sdk.errors import SdkError, error_response
from apex_mediation.sdk.runtime import AuctionRuntime
from apex_mediation.services import Services
from apex_mediation.tracking import dedupe, event_names
from apex_mediation.tracking.shipper import encode
from apex_mediation.tracking.tokens import BeaconClaims, InvalidToken

NO_STORE = {"Cache-Control": "no-store"}
# Served, or expired from the cache before the SDK loaded it (the self-evolving system tunes
# the cache's TTL from the expired share).
creative_lookups_total = Counter(
    "sdk_creative_lookups_total", "Creative URL loads by result", ["result"]
)


def event_id(token: str, event: str) -> str:
    """One id per (token, event): a replayed beacon maps to the same id and counts once."""
    return hashlib.sha256(f"{token}|{event}".encode()).hexdigest()[:32]


def click_key(auction_id: str, bid_id: str) -> str:
    return f"click:{auction_id}:{bid_id}"


def creative_key(auction_id: str, bid_id: str) -> str:
    return f"creative:{auction_id}:{bid_id}"


def _headers(request: Request, *names: bytes) -> list[str]:
    """Several headers in one pass over the raw list (Starlette's Headers.get scans it per
    call, which shows on a path that runs thousands of times a second); missing ones are ""."""
    found = dict.fromkeys(names, "")
    for name, value in request.scope["headers"]:
        if name in found and not found[name]:
            found[name] = value.decode("latin-1")
    return list(found.values())


def token_of(request: Request) -> str:
    """The `token` query parameter. Beacon URLs carry nothing else and a token is URL-safe
    base64, so the query string is the token as is; parsing it into a multi-dict costs about a
    tenth of a beacon's event-loop time (docs/benchmarks.md). Anything else is parsed."""
    query: bytes = request.scope["query_string"]
    if query.startswith(b"token=") and b"&" not in query and b"%" not in query:
        return query[6:].decode("ascii", "replace")
    return request.query_params.get("token", "")


def allowed_click_url(url: str, advertiser_domains: tuple[str, ...]) -> bool:
    """Redirect only over https/http to the advertiser's own domain (or a subdomain of it)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and any(
        host == domain or host.endswith("." + domain) for domain in advertiser_domains
    )


async def _accept(request: Request, event: str) -> tuple[BeaconClaims | None, Response | None]:
    """The token's claims if this event is new and now durable; else the response to send."""
    runtime: AuctionRuntime = request.app.state.auction
    services: Services = request.app.state.services
    token = token_of(request)
    try:
        claims = runtime.signer.verify(token)
    except InvalidToken as exc:
        return None, error_response(400, SdkError.INVALID_REQUEST, f"token: {exc}")
    key = dedupe.key(event_id(token, event))
    now = time.time()
    # The value is when it was seen: a click or a reward reads its impression's (ivt/).
    if not await services.cache.add(key, repr(now).encode(), ttl_s=runtime.dedupe_window_s):
        await runtime.ivt.replayed(claims)  # evidence against the device's next events
        return claims, None  # a replay: acknowledged, counted once already
    snapshot = runtime.snapshots.current
    placement = snapshot.placements.get(claims.placement_id)
    app = snapshot.apps.get(claims.app_id)
    publisher_id = placement.publisher_id if placement else (app.publisher_id if app else _NIL)
    user_agent, country = _headers(request, b"user-agent", services.settings.geo_header_key)
    verdict = await runtime.ivt.check_event(
        EventSignals(
            claims=claims,
            event=event,
            publisher_id=publisher_id,
            ip=request.client.host if request.client else None,
            user_agent=user_agent or None,
            sdk_endpoint=app is None or app.platform != "web",
            issued_at=runtime.signer.issued_at(claims),
            impression_key=key
            if event == event_names.IMPRESSION
            else dedupe.key(event_id(token, event_names.IMPRESSION)),
        ),
        now,
    )
    invalid = verdict.invalid(runtime.ivt.config.current.thresholds_of(publisher_id))
    row: dict[str, Any] = {
        "event_id": key.removeprefix(dedupe.PREFIX),
        "event": event,
        "received_at": dt.datetime.fromtimestamp(now, dt.UTC),
        "auction_id": claims.auction_id,
        "bid_id": claims.bid_id,
        "publisher_id": publisher_id,
        "app_id": claims.app_id,
        "placement_id": claims.placement_id,
        "network": claims.network,
        "format": placement.format if placement else "",
        "platform": app.platform if app else "",
        "country": country.upper()[:2],
        "cpm_micros": claims.price_micros if event == event_names.IMPRESSION else 0,
        "currency": claims.currency,
        "test": int(claims.test),
        "ivt": int(invalid),  # stored, and left out of revenue and the headline figures
        "ivt_score": verdict.score_ppm // 1000,
        "ivt_reasons": list(verdict.reasons),
        "device_key": claims.device_key,
    }
    try:
        await runtime.ingest.append(encode("events", row))
    except OSError:
        # Not durable, so not acknowledged: forget the dedupe key so the SDK's retry counts.
        await services.cache.delete(key)
        return None, error_response(503, SdkError.INTERNAL_ERROR, "event not stored; retry")
    if event == event_names.IMPRESSION and placement is not None:
        await pacing.record_impression(services.cache, placement, claims.device_key or None, now)
    return claims, None


async def impression(request: Request) -> Response:
    _, failed = await _accept(request, event_names.IMPRESSION)
    return failed or Response(status_code=204, headers=NO_STORE)


async def reward(request: Request) -> Response:
    _, failed = await _accept(request, event_names.REWARD)
    return failed or Response(status_code=204, headers=NO_STORE)


async def video(request: Request) -> Response:
    event = event_names.VIDEO.get(request.path_params["event"])
    if event is None:
        return error_response(
            404,
            SdkError.INVALID_REQUEST,
            f"unknown video event; one of {', '.join(event_names.VIDEO)}",
        )
    _, failed = await _accept(request, event)
    return failed or Response(status_code=204, headers=NO_STORE)


async def click(request: Request) -> Response:
    claims, failed = await _accept(request, event_names.CLICK)
    if failed is not None or claims is None:
        return failed or Response(status_code=204)
    services: Services = request.app.state.services
    stored = await services.cache.get(click_key(claims.auction_id, claims.bid_id))
    if stored is not None:
        url, _, domains = stored.decode().partition("\n")
        if allowed_click_url(url, tuple(d for d in domains.split(",") if d)):
            return RedirectResponse(url, status_code=302, headers=NO_STORE)
    return Response(status_code=204, headers=NO_STORE)


async def creative(request: Request) -> Response:
    """The winning markup for SDKs that load a creative URL (iOS, CTV)."""
    runtime: AuctionRuntime = request.app.state.auction
    services: Services = request.app.state.services
    try:
        claims = runtime.signer.verify(token_of(request))
    except InvalidToken as exc:
        return error_response(400, SdkError.INVALID_REQUEST, f"token: {exc}")
    markup = await services.cache.get(creative_key(claims.auction_id, claims.bid_id))
    creative_lookups_total.labels("expired" if markup is None else "served").inc()
    if markup is None:
        return error_response(410, SdkError.AD_EXPIRED, "creative expired")
    return Response(
        markup,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Security-Policy": "sandbox allow-scripts allow-popups",
        },
    )


_NIL = "00000000-0000-0000-0000-000000000000"
