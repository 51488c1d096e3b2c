"""Android and Unity: `POST /v1/auction`, snake_case (PROTOCOL.md §1)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec

from apex_mediation.auction.exchange import RankedEntry
from apex_mediation.auction.model import AuctionRequest, Device, Platform, Privacy
from apex_mediation.sdk.wire.common import (
    WireError,
    ad_format,
    cpm_to_micros,
    flag,
    micros_to_cpm,
    text,
)


class DeviceInfo(msgspec.Struct, kw_only=True):
    os: str | None = None
    os_version: str | None = None
    make: str | None = None
    model: str | None = None
    screen_width: int | None = None
    screen_height: int | None = None
    language: str | None = None
    timezone: str | None = None
    connection_type: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class UserInfo(msgspec.Struct, kw_only=True):
    limit_ad_tracking: bool | None = None
    consent_string: str | None = None
    privacy_sandbox: bool | str | None = None
    advertising_id: str | None = None
    app_set_id: str | None = None


class AndroidAuction(msgspec.Struct, kw_only=True):
    placement_id: str
    ad_type: str
    request_id: str | None = None
    app_id: str | None = None
    floor_cpm: Decimal | None = None
    timeout_ms: int | None = None
    auction_type: str | None = None
    adapters: list[str] | None = None
    metadata: dict[str, str] | None = None
    device_info: DeviceInfo | None = None
    user_info: UserInfo | None = None
    test: bool | None = None
    debug: bool | None = None
    sdk_version: str | None = None
    install_id: str | None = None


def to_canonical(body: AndroidAuction, client_ip: str | None) -> AuctionRequest:
    meta = body.metadata or {}
    info = body.device_info or DeviceInfo()
    user = body.user_info or UserInfo()
    os_name = (info.os or "android").lower()
    platform: Platform = (
        "unity" if "unity" in os_name or meta.get("engine") == "unity" else "android"
    )
    lat = bool(user.limit_ad_tracking) or flag(meta.get("limit_ad_tracking")) is True
    ifa = user.advertising_id or user.app_set_id
    if body.timeout_ms is not None and body.timeout_ms <= 0:
        raise WireError("timeout_ms: must be positive")
    return AuctionRequest(
        request_id=text(body.request_id, 128) or uuid.uuid4().hex,
        placement_id=body.placement_id,
        ad_format=ad_format(body.ad_type, "ad_type"),
        platform=platform,
        app_id=body.app_id,
        client_floor_micros=cpm_to_micros(body.floor_cpm, "floor_cpm"),
        client_timeout_ms=body.timeout_ms,
        adapters_hint=tuple(body.adapters) if body.adapters else None,
        device=Device(
            os=os_name,
            os_version=text(info.os_version),
            make=text(info.make),
            model=text(info.model),
            user_agent=text(info.user_agent, 1024),
            ip=info.ip or client_ip,
            language=text(info.language, 16),
            timezone=text(info.timezone, 64),
            connection_type=text(info.connection_type, 32),
            screen_width=info.screen_width,
            screen_height=info.screen_height,
            ifa=None if lat else text(ifa, 64),
            ifa_type="app_set_id" if ifa and not user.advertising_id else "aaid",
        ),
        privacy=Privacy(
            gdpr_applies=flag(meta.get("gdpr_applies")),
            tcf_consent=meta.get("gdpr_consent") or user.consent_string,
            us_privacy=meta.get("us_privacy"),
            gpp=meta.get("gpp"),
            coppa=flag(meta.get("coppa")) is True,
            limit_ad_tracking=lat,
        ),
        test=bool(body.test) or flag(meta.get("test_mode")) is True,
        debug=bool(body.debug),
        sdk_name="android",
        sdk_version=body.sdk_version or meta.get("sdk_version"),
        install_id=body.install_id or meta.get("install_id"),
    )


def winner_fields(entry: RankedEntry, request_id: str, currency: str = "USD") -> dict[str, Any]:
    """The `winner` object (and each fallback) as the Android SDK reads it."""
    outcome = entry.outcome
    bid = outcome.bid
    return {
        "bid_id": bid.bid_id if bid else f"{request_id}-{outcome.network}",
        "adapter_name": outcome.network,
        "cpm": micros_to_cpm(entry.ecpm_micros),
        "currency": currency,
        "creative_id": bid.creative_id if bid else None,
        "ad_markup": bid.ad_markup if bid else None,
        # Client-side waterfall instances: what the SDK needs to load the network's own ad.
        "instance": None if bid else {"network": outcome.network, "params": outcome.line_params},
        "tracking": entry.tracking,
    }
