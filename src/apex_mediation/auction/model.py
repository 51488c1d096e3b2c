"""The canonical auction request: every SDK wire format is translated into this at the edge.

msgspec Structs (not Pydantic) because this is built and read on every ad request.
Money is integer micros of USD unless a field says otherwise.
"""

from __future__ import annotations

from typing import Literal

import msgspec

AdFormat = Literal["banner", "interstitial", "rewarded", "native", "app_open"]
Platform = Literal["android", "ios", "unity", "web", "ctv"]


class Device(msgspec.Struct, kw_only=True):
    os: str | None = None  # "android", "ios", "tvos", "web", ...
    os_version: str | None = None
    make: str | None = None
    model: str | None = None
    user_agent: str | None = None
    ip: str | None = None  # IPv4 or IPv6, as seen or as declared by the SDK
    language: str | None = None
    timezone: str | None = None  # IANA name, e.g. "Europe/Berlin"
    connection_type: str | None = None
    screen_width: int | None = None
    screen_height: int | None = None
    screen_scale: float | None = None
    ifa: str | None = None  # advertising id (GAID / IDFA / app set id); None if absent
    ifa_type: str | None = None  # "aaid", "idfa", "app_set_id"
    att_status: int | None = None  # iOS ATTrackingManager status 0-3
    country: str | None = None  # ISO 3166-1 alpha-2, from geo or declared


class Privacy(msgspec.Struct, kw_only=True):
    """The raw privacy signals as the SDK sent them; privacy/ decides what they allow."""

    gdpr_applies: bool | None = None
    tcf_consent: str | None = None  # TCF v2 TC string
    us_privacy: str | None = None  # CCPA string such as "1YNN"
    gpp: str | None = None  # IAB GPP string
    gpp_sid: tuple[int, ...] = ()
    coppa: bool = False
    limit_ad_tracking: bool = False


class AuctionRequest(msgspec.Struct, kw_only=True):
    request_id: str
    placement_id: str
    ad_format: AdFormat
    platform: Platform
    app_id: str | None = None  # resolved from the key or body; checked against the placement
    bundle_id: str | None = None  # app bundle id or, for web, the page's domain
    app_version: str | None = None
    sdk_name: str | None = None
    sdk_version: str | None = None
    client_floor_micros: int | None = None  # may raise the floor, never lower it
    client_timeout_ms: int | None = None  # may shorten the budget, never lengthen it
    adapters_hint: tuple[str, ...] | None = None  # may narrow the candidates, never add
    width: int | None = None
    height: int | None = None
    device: Device = msgspec.field(default_factory=Device)
    privacy: Privacy = msgspec.field(default_factory=Privacy)
    test: bool = False
    debug: bool = False
    install_id: str | None = None
