"""The SDK-facing endpoints: plain Starlette handlers with msgspec (no FastAPI validation layer
on the hot path). Each parses its published wire format into the canonical request, runs the
exchange, and answers in the same format. A client's mistake is a 4xx with the SDK error body,
never a 5xx."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from dataclasses import replace
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from apex_mediation.accounts import api_keys
from apex_mediation.auction import pacing
from apex_mediation.auction.exchange import AuctionResult
from apex_mediation.auction.metrics import observe_auction
from apex_mediation.auction.model import AuctionRequest
from apex_mediation.auction.snapshot import AppConfig, PlacementConfig, Snapshot
from apex_mediation.ivt.detector import RequestSignals
from apex_mediation.ivt.scoring import Decision, decide
from apex_mediation.sdk import beacons, telemetry
from apex_mediation.sdk.errors import SdkError, error_response, json_response
from apex_mediation.sdk.limits import over_limit
from apex_mediation.sdk.runtime import AuctionRuntime
from apex_mediation.sdk.wire import android, ctv, ios, mobile, web
from apex_mediation.sdk.wire.common import WireError
from apex_mediation.services import Services

MAX_BODY_BYTES = 256 * 1024
CORS_MAX_AGE = "600"
BANNER_WIDTH = 320  # points: a banner request without a size asks for the standard one


class BodyTooLarge(Exception):
    pass


class Rejected(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _runtime(request: Request) -> AuctionRuntime:
    runtime: AuctionRuntime = request.app.state.auction
    return runtime


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge
    return bytes(body)


def _decode(raw: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise WireError(_field_message(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise WireError("body is not valid JSON") from exc


def _field_message(message: str) -> str:
    """msgspec says "Expected `str`, got `int` - at `$.device_info.ip`": lead with the field."""
    if " - at `$." in message:
        text, _, where = message.partition(" - at `$.")
        return f"{where.rstrip('`')}: {text}"
    return message


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _country(request: Request, services: Services) -> str | None:
    value = request.headers.get(services.settings.geo_country_header, "").strip().upper()
    return value if len(value) == 2 and value.isalpha() else None


def _app_by_key(request: Request, snapshot: Snapshot) -> AppConfig:
    key = request.headers.get("x-api-key", "")
    app_id = snapshot.sdk_keys.get(hashlib.sha256(key.encode()).hexdigest()) if key else None
    app = snapshot.apps.get(app_id) if app_id else None
    if app is None or not app.active:
        raise Rejected(
            error_response(
                401, SdkError.INVALID_APP_ID, "unknown, revoked or disabled SDK key (X-Api-Key)"
            )
        )
    return app


def _placement(
    snapshot: Snapshot, app: AppConfig, canonical: AuctionRequest, field: str
) -> PlacementConfig:
    placement = snapshot.placements.get(canonical.placement_id)
    if placement is None or placement.app_id != app.id:
        raise Rejected(
            error_response(
                400, SdkError.INVALID_REQUEST, f"{field}: unknown placement for this app"
            )
        )
    if not placement.enabled:
        raise Rejected(
            error_response(400, SdkError.INVALID_REQUEST, f"{field}: placement is disabled")
        )
    if placement.format != canonical.ad_format:
        raise Rejected(
            error_response(
                400,
                SdkError.INVALID_REQUEST,
                f"ad type {canonical.ad_format} does not match the placement's {placement.format}",
            )
        )
    return placement


async def _run(
    request: Request, app: AppConfig, placement: PlacementConfig, canonical: AuctionRequest
) -> AuctionResult:
    services: Services = request.app.state.services
    runtime = _runtime(request)
    limiter = request.app.state.rate_limiter
    ip = _client_ip(request)
    # The counter's key holds the address's keyed hash, never the address.
    wait = await over_limit(limiter, runtime.limits, app.id, runtime.ip_hasher(ip) if ip else None)
    if wait is not None:
        raise Rejected(
            error_response(
                429,
                SdkError.INVALID_REQUEST,
                "rate limit exceeded",
                headers={"Retry-After": str(wait)},
            )
        )
    country = _country(request, services)
    declared_country = canonical.device.country
    if country:
        canonical = msgspec.structs.replace(
            canonical, device=msgspec.structs.replace(canonical.device, country=country)
        )
    runtime.sdk_versions.saw(app.id, canonical.platform, canonical.sdk_version)
    ivt = await _ivt_check(request, runtime, app, canonical, country, declared_country)
    result = await runtime.exchange.run(canonical, app, placement, ivt)
    runtime.auction_log.record(result)
    if result.ranked:
        await runtime.ivt.saw_auction(result.auction_id, runtime.signer.ttl_s)
    await _keep_for_beacons(services, result, runtime.creative_ttl_s)
    for url in result.notices:
        runtime.spawn(runtime.transport.fire_and_forget(url))
    observe_auction(placement.format, result.winner is not None, result.duration_ms)
    return result


async def _ivt_check(
    request: Request,
    runtime: AuctionRuntime,
    app: AppConfig,
    canonical: AuctionRequest,
    geo_country: str | None,
    declared_country: str | None,
) -> Decision:
    """The invalid-traffic pre-check, before any bidder is called."""
    device = canonical.device
    headers = request.headers
    purpose = f"{headers.get('sec-purpose', '')} {headers.get('purpose', '')}".lower()
    signals = RequestSignals(
        publisher_id=app.publisher_id,
        app_id=app.id,
        ip=_client_ip(request),
        user_agent=headers.get("user-agent") or device.user_agent,
        sdk_endpoint=canonical.platform != "web",
        device_key=pacing.strong_device(pacing.device_key(canonical)),
        geo_country=geo_country,
        declared_country=declared_country,
        timezone=device.timezone,
        prefetch="prefetch" in purpose or "prerender" in purpose
        or headers.get("x-moz", "").lower() == "prefetch",
        screen_width=device.screen_width,
        screen_height=device.screen_height,
        ad_width=canonical.width or (BANNER_WIDTH if canonical.ad_format == "banner" else None),
    )  # fmt: skip
    verdict = await runtime.ivt.check_request(signals, time.time())
    decision = decide(verdict, runtime.ivt.config.current.thresholds_of(app.publisher_id))
    if decision.blocked and (app.test_mode or canonical.test):
        # Test traffic is never counted or billed, and a developer trying an integration with
        # curl must get an answer: judged and recorded, never blocked.
        return replace(decision, blocked=False)
    return decision


async def _keep_for_beacons(services: Services, result: AuctionResult, ttl_s: int) -> None:
    """What the click and creative URLs serve later, kept briefly in the cache: the winner's
    click target (with its advertiser domains) and, for SDKs that load a creative URL, its
    markup, for `ttl_s` (a run-time knob: cache.creative_ttl_s)."""
    winner = result.winner
    bid = winner.outcome.bid if winner else None
    if bid is None:
        return
    if bid.click_url:
        value = f"{bid.click_url}\n{','.join(bid.adomain)}".encode()
        await services.cache.set(
            beacons.click_key(result.auction_id, bid.bid_id), value, ttl_s=ttl_s
        )
    if bid.ad_markup and result.request.platform in ("ios", "ctv"):
        key = beacons.creative_key(result.auction_id, bid.bid_id)
        await services.cache.set(key, bid.ad_markup.encode(), ttl_s=ttl_s)


async def _with_debug(
    request: Request, body: dict[str, Any], result: AuctionResult
) -> dict[str, Any]:
    """The trace goes to test traffic, or to a caller holding a management key of the
    placement's publisher (checked only when a trace is asked for: never on the normal path)."""
    wants = request.query_params.get("debug") == "1" or result.request.debug
    if wants and (result.test or await _is_publisher_manager(request, result)):
        body["debug"] = result.trace()
    return body


async def _is_publisher_manager(request: Request, result: AuctionResult) -> bool:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return False
    services: Services = request.app.state.services
    async with services.postgres.session() as session:
        key = await api_keys.authenticate(session, secret.strip())
        await session.commit()
    return (
        key is not None
        and "management" in key.scopes
        and str(key.publisher_id) == result.placement.publisher_id
    )


async def _guard(handler: Any, request: Request) -> Response:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except BodyTooLarge:
        return error_response(
            413, SdkError.INVALID_REQUEST, f"body larger than {MAX_BODY_BYTES // 1024} KiB"
        )
    except WireError as exc:
        return error_response(400, SdkError.INVALID_REQUEST, str(exc))
    except Rejected as rejected:
        return rejected.response


# -- Android / Unity / iOS -------------------------------------------------------------------


async def _mobile_auction(request: Request) -> Response:
    raw = await _read_body(request)
    snapshot = _runtime(request).snapshots.current
    app = _app_by_key(request, snapshot)
    ip = _client_ip(request)
    if b'"placementId"' in raw:  # iOS camelCase; Android/Unity send placement_id
        canonical = ios.to_canonical(_decode(raw, ios.IosAuction), ip)
        field = "placementId"
    else:
        body = _decode(raw, android.AndroidAuction)
        if body.app_id and body.app_id != app.id:
            raise Rejected(
                error_response(
                    400, SdkError.INVALID_APP_ID, "app_id does not match the SDK key's app"
                )
            )
        canonical = android.to_canonical(body, ip)
        field = "placement_id"
    placement = _placement(snapshot, app, canonical, field)
    result = await _run(request, app, placement, canonical)
    if result.winner is None:
        return Response(status_code=204)
    return json_response(await _with_debug(request, mobile.body(result), result))


async def mobile_auction(request: Request) -> Response:
    return await _guard(_mobile_auction, request)


# -- Web -----------------------------------------------------------------------------------------


def _cors(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": CORS_MAX_AGE,
    }


async def web_preflight(request: Request) -> Response:
    # A preflight carries no body, so no app: allow an origin that some app allows; the POST
    # itself is then checked against its own app's list.
    origin = request.headers.get("origin", "")
    if origin not in _runtime(request).snapshots.current.web_origins:
        return Response(status_code=403)
    return Response(status_code=204, headers=_cors(origin))


async def _web_auction(request: Request) -> Response:
    raw = await _read_body(request)
    snapshot = _runtime(request).snapshots.current
    body = _decode(raw, web.WebAuction)
    canonical = web.to_canonical(body, _client_ip(request), request.headers.get("user-agent"))
    meta = body.meta or web.WebMeta()
    app = snapshot.apps.get(meta.app_id or "")
    if (
        app is None
        or not app.active
        or app.platform != "web"
        or (meta.publisher_id and meta.publisher_id != app.publisher_id)
    ):
        raise Rejected(
            error_response(
                401,
                SdkError.INVALID_APP_ID,
                "meta.app_id / meta.publisher_id do not name an active web app",
            )
        )
    origin = request.headers.get("origin")
    if origin is not None and origin not in app.allowed_origins:
        raise Rejected(
            error_response(
                403, SdkError.INVALID_APP_ID, f"origin {origin} is not allowed for this app"
            )
        )
    placement = _placement(snapshot, app, canonical, "request.placement")
    result = await _run(request, app, placement, canonical)
    headers = _cors(origin) if origin else None
    return json_response(await _with_debug(request, web.body(result), result), headers=headers)


async def web_auction(request: Request) -> Response:
    return await _guard(_web_auction, request)


# -- CTV -------------------------------------------------------------------------------------------


async def _ctv_auction(request: Request) -> Response:
    raw = await _read_body(request)
    snapshot = _runtime(request).snapshots.current
    app = _app_by_key(request, snapshot)
    canonical = ctv.to_canonical(_decode(raw, ctv.CtvAuction), _client_ip(request))
    placement = _placement(snapshot, app, canonical, "placementId")
    result = await _run(request, app, placement, canonical)
    return json_response(await _with_debug(request, ctv.body(result), result))


async def ctv_auction(request: Request) -> Response:
    return await _guard(_ctv_auction, request)


# -- Signed config -------------------------------------------------------------------------


async def config_keys(request: Request) -> Response:
    runtime = _runtime(request)
    if runtime.config is None:
        return error_response(503, SdkError.INIT_FAILED, runtime.config_error or "no keys")
    now = dt.datetime.now(dt.UTC)
    # keyId -> base64 DER SubjectPublicKeyInfo, what the Android SDK loads with
    # X509EncodedKeySpec; retired keys stay listed through their grace period.
    keys = {
        key.key_id: base64.b64encode(key.spki_der).decode()
        for key in runtime.config.ring.verifiable(now)
    }
    return json_response(keys, headers={"Cache-Control": "max-age=300"})


async def _app_config(request: Request) -> Response:
    runtime = _runtime(request)
    snapshot = runtime.snapshots.current
    app = _app_by_key(request, snapshot)
    if app.id != request.path_params["app_id"]:
        raise Rejected(
            error_response(401, SdkError.INVALID_APP_ID, "the SDK key belongs to another app")
        )
    if runtime.config is None:
        return error_response(503, SdkError.INIT_FAILED, runtime.config_error or "no key")
    signed = await runtime.config.config_for(snapshot, app)
    headers = {"ETag": signed.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == signed.etag:
        return Response(status_code=304, headers=headers)
    return json_response(signed.body, headers=headers)


async def app_config(request: Request) -> Response:
    return await _guard(_app_config, request)


async def _telemetry(request: Request) -> Response:
    raw = await _read_body(request)
    runtime = _runtime(request)
    app = _app_by_key(request, runtime.snapshots.current)
    batch = _decode(raw, telemetry.TelemetryBatch)
    services: Services = request.app.state.services
    return await telemetry.accept(runtime, services.cache, batch, app.publisher_id, app.id)


async def sdk_telemetry(request: Request) -> Response:
    return await _guard(_telemetry, request)


class TemplatedRoute(Route):
    """A Starlette route that, like FastAPI's, puts itself in the scope, so that metrics are
    labelled by the route template."""

    def matches(self, scope: Any) -> tuple[Match, Any]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


routes = [
    TemplatedRoute("/v1/auction", mobile_auction, methods=["POST"]),
    TemplatedRoute("/auction", web_auction, methods=["POST"]),
    TemplatedRoute("/auction", web_preflight, methods=["OPTIONS"]),
    TemplatedRoute("/api/v1/rtb/bid", ctv_auction, methods=["POST"]),
    TemplatedRoute("/v1/config/keys", config_keys, methods=["GET"]),
    TemplatedRoute("/v1/telemetry", sdk_telemetry, methods=["POST"]),
    TemplatedRoute("/t/imp", beacons.impression, methods=["GET", "POST"]),
    TemplatedRoute("/t/click", beacons.click, methods=["GET", "POST"]),
    TemplatedRoute("/t/reward", beacons.reward, methods=["GET", "POST"]),
    TemplatedRoute("/t/video/{event}", beacons.video, methods=["GET", "POST"]),
    TemplatedRoute("/v1/creative", beacons.creative, methods=["GET"]),
    TemplatedRoute("/v1/config/{app_id}", app_config, methods=["GET"]),
]
