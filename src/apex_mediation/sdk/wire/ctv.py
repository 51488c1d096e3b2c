"""CTV: `POST /api/v1/rtb/bid` (PROTOCOL.md §4). The whole auction gets 120 ms unless the
placement says otherwise."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from apex_mediation.auction.model import AuctionRequest, Device, Privacy
from apex_mediation.sdk.wire.common import ad_format, flag, micros_to_cpm, text

CTV_DEFAULT_TMAX_MS = 120


class CtvDevice(msgspec.Struct, kw_only=True, rename="camel"):
    os: str | None = None
    os_version: str | None = None
    make: str | None = None
    model: str | None = None
    ua: str | None = None
    ip: str | None = None
    ifa: str | None = None
    lmt: bool | int | None = None
    language: str | None = None
    w: int | None = None
    h: int | None = None


class CtvConsent(msgspec.Struct, kw_only=True):
    gdpr: bool | int | None = None
    gdpr_consent: str | None = None
    us_privacy: str | None = None
    coppa: bool | int | None = None


class CtvAuction(msgspec.Struct, kw_only=True, rename="camel"):
    placement_id: str
    ad_type: str
    request_id: str | None = None
    device: CtvDevice | None = None
    consent: CtvConsent | None = None
    test_mode: bool | None = None


def to_canonical(body: CtvAuction, client_ip: str | None) -> AuctionRequest:
    device, consent = body.device or CtvDevice(), body.consent or CtvConsent()
    lat = flag(device.lmt) is True
    return AuctionRequest(
        request_id=text(body.request_id, 128) or uuid.uuid4().hex,
        placement_id=body.placement_id,
        ad_format=ad_format(body.ad_type, "adType"),
        platform="ctv",
        # CTV players have a tight budget: the client hint keeps it unless the placement is
        # stricter (tmax = min of the two).
        client_timeout_ms=CTV_DEFAULT_TMAX_MS,
        device=Device(
            os=text(device.os, 32),
            os_version=text(device.os_version, 32),
            make=text(device.make, 64),
            model=text(device.model, 64),
            user_agent=text(device.ua, 1024),
            ip=device.ip or client_ip,
            ifa=None if lat else text(device.ifa, 64),
            language=text(device.language),
            screen_width=device.w,
            screen_height=device.h,
        ),
        privacy=Privacy(
            gdpr_applies=flag(consent.gdpr),
            tcf_consent=consent.gdpr_consent or None,
            us_privacy=consent.us_privacy or None,
            coppa=flag(consent.coppa) is True,
            limit_ad_tracking=lat,
        ),
        test=bool(body.test_mode),
        sdk_name="ctv",
    )


def body(result: Any) -> dict[str, Any]:
    winner = result.winner
    consent = result.request.privacy
    echo = {
        "gdpr": consent.gdpr_applies,
        "gdpr_consent": consent.tcf_consent,
        "us_privacy": consent.us_privacy,
        "coppa": consent.coppa,
    }
    if winner is None:
        return {"success": False, "reason": "no_fill"}
    bid = winner.outcome.bid
    return {
        "success": True,
        "response": {
            "requestId": result.request.request_id,
            "bidId": bid.bid_id if bid else f"{result.auction_id}-0",
            "adapter": winner.outcome.network,
            "cpm": micros_to_cpm(winner.ecpm_micros),
            "ttlSeconds": 300,
            "creativeUrl": winner.tracking["creative"],
            "tracking": {"impression": winner.tracking["imp"], "click": winner.tracking["click"]},
            "consentEcho": echo,
        },
    }
