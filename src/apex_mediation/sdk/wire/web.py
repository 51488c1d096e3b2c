"""Web: `POST /auction` (PROTOCOL.md §3). Authenticated by app id + publisher id and the page's
origin (keys are not secret in a browser)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from apex_mediation.auction.model import AuctionRequest, Device, Privacy
from apex_mediation.sdk.wire.common import WireError, flag, micros_to_cpm, text


class WebRequestPart(msgspec.Struct, kw_only=True, rename="camel"):
    placement: str
    ad_type: str
    width: int | None = None
    height: int | None = None
    test_mode: bool | None = None
    extras: dict[str, Any] | None = None


class WebConsent(msgspec.Struct, kw_only=True, rename="camel"):
    gdpr_applies: bool | int | None = None
    tcf_consent: str | None = None
    us_privacy: str | None = None
    gpp: str | None = None
    coppa: bool | int | None = None


class WebSdk(msgspec.Struct, kw_only=True, rename="camel"):
    name: str | None = None
    version: str | None = None


class WebMeta(msgspec.Struct, kw_only=True, rename="camel"):
    sdk: WebSdk | None = None
    publisher_id: str | None = None
    app_id: str | None = None


class WebAuction(msgspec.Struct, kw_only=True, rename="camel"):
    request: WebRequestPart
    consent: WebConsent | None = None
    meta: WebMeta | None = None


WEB_FORMATS = {"banner": "banner", "interstitial": "interstitial", "rewarded": "rewarded"}


def to_canonical(body: WebAuction, client_ip: str | None, user_agent: str | None) -> AuctionRequest:
    part, consent, meta = body.request, body.consent or WebConsent(), body.meta or WebMeta()
    fmt = WEB_FORMATS.get(part.ad_type.lower())
    if fmt is None:
        raise WireError(
            f"request.adType: unknown ad type {part.ad_type!r}; expected banner, "
            "interstitial or rewarded"
        )
    for name, value in (("request.width", part.width), ("request.height", part.height)):
        if value is not None and not 0 < value <= 10_000:
            raise WireError(f"{name}: must be between 1 and 10000")
    sdk = meta.sdk or WebSdk()
    return AuctionRequest(
        request_id=uuid.uuid4().hex,
        placement_id=part.placement,
        ad_format=fmt,  # type: ignore[arg-type]
        platform="web",
        app_id=meta.app_id,
        width=part.width,
        height=part.height,
        device=Device(os="web", ip=client_ip, user_agent=text(user_agent, 1024)),
        privacy=Privacy(
            gdpr_applies=flag(consent.gdpr_applies),
            tcf_consent=consent.tcf_consent or None,
            us_privacy=consent.us_privacy or None,
            gpp=consent.gpp or None,
            coppa=flag(consent.coppa) is True,
        ),
        test=bool(part.test_mode),
        sdk_name=text(sdk.name, 64) or "web",
        sdk_version=text(sdk.version, 64),
    )


def body(result: Any) -> dict[str, Any]:
    """Always 200 for a valid request: filled or not."""
    winner = result.winner
    out: dict[str, Any] = {"requestId": result.request.request_id, "fill": winner is not None}
    if winner is None:
        return out
    bid = winner.outcome.bid
    out.update(
        {
            "price": micros_to_cpm(winner.ecpm_micros),
            "currency": "USD",
            "creative": {
                "id": (bid.creative_id if bid else None) or winner.outcome.network,
                "html": bid.ad_markup if bid else None,
                "tracking": {
                    "impression": winner.tracking["imp"],
                    "click": winner.tracking["click"],
                },
            },
            "ttlSeconds": 300,
        }
    )
    return out
