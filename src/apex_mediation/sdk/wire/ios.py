"""iOS: `POST /v1/auction`, camelCase (PROTOCOL.md §2); told apart from Android by its fields."""

from __future__ import annotations

import uuid

import msgspec

from apex_mediation.auction.model import AuctionRequest, Device, Privacy
from apex_mediation.sdk.wire.common import ad_format, flag, text

ATT_AUTHORIZED = 3


class IosDevice(msgspec.Struct, kw_only=True, rename="camel"):
    platform: str | None = None
    os_version: str | None = None
    model: str | None = None
    language: str | None = None
    screen_width: int | None = None
    screen_height: int | None = None
    screen_scale: float | None = None
    att_status: int | None = None
    limit_ad_tracking: bool | None = None
    idfa: str | None = None
    timezone: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class IosApp(msgspec.Struct, kw_only=True, rename="camel"):
    bundle_id: str | None = None
    version: str | None = None
    build: str | None = None


class IosAuction(msgspec.Struct, kw_only=True, rename="camel"):
    placement_id: str
    ad_type: str
    request_id: str | None = None
    device: IosDevice | None = None
    app: IosApp | None = None
    consent: dict[str, str | bool | int] | None = None
    test_mode: bool | None = None
    debug: bool | None = None
    sdk_version: str | None = None
    install_id: str | None = None


def to_canonical(body: IosAuction, client_ip: str | None) -> AuctionRequest:
    device = body.device or IosDevice()
    app = body.app or IosApp()
    consent = body.consent or {}
    lat = bool(device.limit_ad_tracking) or flag(consent.get("limit_ad_tracking")) is True
    authorized = device.att_status is None or device.att_status == ATT_AUTHORIZED
    idfa = device.idfa if device.idfa and not lat and authorized else None
    if idfa == "00000000-0000-0000-0000-000000000000":
        idfa = None  # what iOS returns when tracking is not authorized
    tcf = consent.get("gdpr_consent")
    usp = consent.get("us_privacy")
    gpp = consent.get("gpp")
    return AuctionRequest(
        request_id=text(body.request_id, 128) or uuid.uuid4().hex,
        placement_id=body.placement_id,
        ad_format=ad_format(body.ad_type, "adType"),
        platform="ios",
        bundle_id=text(app.bundle_id, 255),
        app_version=text(app.version, 64),
        device=Device(
            os="ios",
            os_version=text(device.os_version, 32),
            make="Apple",
            model=text(device.model, 64),
            language=text(device.language, 16),
            timezone=text(device.timezone, 64),
            ip=device.ip or client_ip,
            user_agent=text(device.user_agent, 1024),
            screen_width=device.screen_width,
            screen_height=device.screen_height,
            screen_scale=device.screen_scale,
            ifa=text(idfa, 64),
            ifa_type="idfa" if idfa else None,
            att_status=device.att_status,
        ),
        privacy=Privacy(
            gdpr_applies=flag(consent.get("gdpr_applies")),
            tcf_consent=tcf if isinstance(tcf, str) and tcf else None,
            us_privacy=usp if isinstance(usp, str) and usp else None,
            gpp=gpp if isinstance(gpp, str) and gpp else None,
            coppa=flag(consent.get("coppa")) is True,
            limit_ad_tracking=lat or not authorized,
        ),
        test=bool(body.test_mode),
        debug=bool(body.debug),
        sdk_name="ios",
        sdk_version=body.sdk_version,
        install_id=body.install_id,
    )
