"""“Test an ad”: a real test-mode auction through the public SDK endpoint. The console server
calls its own `/v1/auction` in process (the same endpoint, rate limits and trace an SDK gets),
with an SDK key of the app issued for this one request and revoked right after, never shown.
The result shows the trace, the creative in a sandboxed frame and the impression beacon, which
"Record impression" fires through the in-process app like an SDK would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request, Response

from apex_mediation.accounts import api_keys
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.inputs import form_text, parse_id
from apex_mediation.console.pages.apps import TEST_KEY_NAME
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import ViewerDep
from apex_mediation.db.models import Placement
from apex_mediation.inventory import placements
from apex_mediation.sdk.beacons import creative_key
from apex_mediation.sdk.runtime import AuctionRuntime
from apex_mediation.services import Services
from apex_mediation.tracking.tokens import InvalidToken

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
AUCTION_TIMEOUT_S = 35.0  # past the longest placement timeout (30 s)
IMPRESSION_PATH = "/t/imp"
CREATIVE_PATH = "/v1/creative"


@dataclass
class AdTestResult:
    status: int
    filled: bool = False
    error: str | None = None
    auction_id: str | None = None
    network: str | None = None
    price_micros: int | None = None
    creative_id: str | None = None
    markup: str | None = None
    instance: dict[str, Any] | None = None
    impression_url: str | None = None
    duration_ms: float | None = None
    floor_micros: int | None = None
    no_fill_reason: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    creative_url: str | None = None


def _client(request: Request, services: Services) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=request.app),
        base_url=services.settings.base_url,
        timeout=AUCTION_TIMEOUT_S,
    )


def _micros(cpm: object) -> int | None:
    try:
        return int(Decimal(str(cpm)) * 1_000_000)
    except (InvalidOperation, ValueError):
        return None


def _result(response: httpx.Response) -> AdTestResult:
    if response.status_code == 204:
        return AdTestResult(status=204, no_fill_reason="no bid above the floor")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return AdTestResult(status=response.status_code, error=f"HTTP {response.status_code}")
    if response.status_code != 200:
        message = (body.get("error") or {}).get("message") or f"HTTP {response.status_code}"
        return AdTestResult(status=response.status_code, error=str(message))
    winner, debug = body.get("winner") or {}, body.get("debug") or {}
    return AdTestResult(
        status=200,
        filled=bool(winner),
        auction_id=body.get("auction_id"),
        network=winner.get("adapter_name"),
        price_micros=debug.get("clearingPriceMicros") or _micros(winner.get("cpm")),
        creative_id=winner.get("creative_id"),
        markup=winner.get("ad_markup"),
        instance=winner.get("instance"),
        impression_url=(winner.get("tracking") or {}).get("imp"),
        duration_ms=debug.get("durationMs"),
        floor_micros=debug.get("floorMicros"),
        no_fill_reason=debug.get("noFillReason"),
        candidates=list(debug.get("candidates") or []),
    )


async def run_test_auction(
    request: Request, services: Services, actor: Actor, placement: Placement, country: str
) -> AdTestResult:
    runtime: AuctionRuntime = request.app.state.auction
    async with services.postgres.session() as session:
        issued = await api_keys.issue(
            session, actor, name=TEST_KEY_NAME, scopes=["sdk"], app_id=placement.app_id
        )
        await session.commit()
    headers = {"X-Api-Key": issued.secret}
    if len(country) == 2 and country.isalpha():
        headers[services.settings.geo_country_header] = country.upper()
    body = {
        "request_id": f"console-test-{uuid.uuid4().hex[:12]}",
        "app_id": str(placement.app_id),
        "placement_id": str(placement.id),
        "ad_type": placement.format,
        "test": True,
        "debug": True,
    }
    try:
        await runtime.snapshots.refresh()  # the key, and any change saved just now
        async with _client(request, services) as client:
            response = await client.post(
                "/v1/auction", params={"debug": "1"}, json=body, headers=headers
            )
    finally:
        async with services.postgres.session() as session:
            await api_keys.revoke(session, actor, issued.key.id)
            await session.commit()
        await runtime.snapshots.refresh()
    return _result(response)


def _fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.post("/placements/{placement_id}/test")
async def try_ad(
    request: Request,
    placement_id: str,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    viewer.actor.require_role("member")
    view = await placements.get_placement(
        session, viewer.actor.tenant(), parse_id(placement_id, "placement")
    )
    country = form_text(await request.form(), "country").strip()
    result = await run_test_auction(request, services, viewer.actor, view.placement, country)
    result.creative_url = await _creative_url(request, services, result)
    context = {"viewer": viewer, "placement": view.placement, "result": result}
    template = "placements/test_result.html" if _fragment(request) else "placements/test.html"
    return render(request, template, context)


async def _creative_url(request: Request, services: Services, result: AdTestResult) -> str | None:
    """The winning markup through the creative delivery URL, as iOS and CTV SDKs load it: a
    document of its own with its own CSP, so the console's CSP (which inline creatives would
    break as a `srcdoc` frame inherits it) does not apply, and sandboxed twice."""
    if not result.markup or not result.impression_url:
        return None
    token = parse_qs(urlsplit(result.impression_url).query).get("token", [""])[0]
    runtime: AuctionRuntime = request.app.state.auction
    try:
        claims = runtime.signer.verify(token)
    except InvalidToken:
        return None
    key = creative_key(claims.auction_id, claims.bid_id)
    await services.cache.set(key, result.markup.encode(), ttl_s=runtime.creative_ttl_s)
    return f"{CREATIVE_PATH}?{urlencode({'token': token})}"


def beacon_path(request: Request, beacon: str, placement: Placement) -> str:
    """The impression beacon's path on this server, if it is one of this placement's."""
    parts = urlsplit(beacon)
    token = parse_qs(parts.query).get("token", [""])[0]
    if not parts.path.endswith(IMPRESSION_PATH) or not token:
        raise InvalidInput("not an impression beacon of this server", field="beacon")
    runtime: AuctionRuntime = request.app.state.auction
    try:
        claims = runtime.signer.verify(token)
    except InvalidToken as exc:
        raise InvalidInput(str(exc), field="beacon") from exc
    if claims.placement_id != str(placement.id):
        raise InvalidInput("the beacon is another placement's", field="beacon")
    return f"{IMPRESSION_PATH}?{urlencode({'token': token})}"


@router.post("/placements/{placement_id}/test/impression")
async def record_impression(
    request: Request,
    placement_id: str,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    viewer.actor.require_role("member")
    view = await placements.get_placement(
        session, viewer.actor.tenant(), parse_id(placement_id, "placement")
    )
    path = beacon_path(request, form_text(await request.form(), "beacon"), view.placement)
    async with _client(request, services) as client:
        response = await client.post(path)
    context = {
        "viewer": viewer,
        "placement": view.placement,
        "recorded": response.status_code == 204,
        "status": response.status_code,
    }
    page = "placements/impression.html" if _fragment(request) else "placements/impression_page.html"
    return render(request, page, context)
