"""BidderCall -> OpenRTB 2.6 BidRequest, shared by the generic bidder and the named networks.

One impression per request (one ad slot per auction). Where OpenRTB 2.6 moved a field out of an
`ext` (regs.gdpr, regs.us_privacy, user.consent, source.schain) the value is written in both places,
so that bidders still on 2.5 read it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apex_mediation.auction.adapters import _ortb as ortb
from apex_mediation.auction.adapters._countries import alpha3
from apex_mediation.auction.adapters.base import BidderCall
from apex_mediation.auction.model import AdFormat, AuctionRequest, Privacy

FULLSCREEN: frozenset[AdFormat] = frozenset({"interstitial", "rewarded", "app_open"})
_MICROS = Decimal(1_000_000)
_BANNER_SIZE = (320, 50)
_FULLSCREEN_SIZE = (320, 480)
# VAST 2.0, 3.0, 2.0 wrapper, 3.0 wrapper, 4.0, 4.0 wrapper
_VAST_PROTOCOLS = [2, 3, 5, 6, 7, 8]
_OS_NAMES = {"android": "Android", "ios": "iOS", "ipados": "iPadOS", "tvos": "tvOS"}
# OpenRTB connection types: 1 ethernet, 2 wifi, 3 cellular (unknown generation), 4-7 2G-5G.
_CONNECTION_TYPES = {
    "ethernet": 1, "wifi": 2, "cellular": 3, "mobile": 3,
    "2g": 4, "3g": 5, "4g": 6, "lte": 6, "5g": 7,
}  # fmt: skip

# A Native 1.2 request for the usual in-feed app ad: title, main image, icon, text, call to action,
# sponsor; impression counted by an image pixel.
NATIVE_REQUEST = ortb.ENCODER.encode(
    {
        "ver": "1.2",
        "context": 1,
        "plcmttype": 1,
        "plcmtcnt": 1,
        "assets": [
            {"id": 1, "required": 1, "title": {"len": 90}},
            {"id": 2, "required": 1, "img": {"type": 3, "wmin": 100, "hmin": 100}},
            {"id": 3, "img": {"type": 1, "wmin": 50, "hmin": 50}},
            {"id": 4, "data": {"type": 2, "len": 140}},
            {"id": 5, "data": {"type": 12, "len": 15}},
            {"id": 6, "data": {"type": 1}},
        ],
        "eventtrackers": [{"event": 1, "methods": [1]}],
    }
).decode()


@dataclass(frozen=True)
class Target:
    """Where one bidder call goes and what it carries, read from the line's params/credentials."""

    endpoint: str
    tagid: str | None = None
    seat: str | None = None  # when set: wseat, and bids from other seats are refused
    imp_ext: dict[str, Any] | None = None  # the network's own ids, e.g. {"bidder": {"plc": …}}
    headers: Mapping[str, str] = field(default_factory=dict)


def bid_request(call: BidderCall, target: Target) -> ortb.BidRequest:
    request = call.request
    publisher = ortb.Publisher(id=call.publisher_id) if call.publisher_id else None
    web = request.platform == "web"
    return ortb.BidRequest(
        id=request.request_id,
        imp=[_imp(call, target)],
        app=None if web else _app(request, publisher),
        site=ortb.Site(domain=request.bundle_id, publisher=publisher) if web else None,
        device=_device(request, call.personalised),
        user=_user(request.privacy),
        regs=_regs(request.privacy),
        source=_source(call),
        at=1,  # Apex runs a first-price auction among the bids it gets
        tmax=call.tmax_ms,
        cur=["USD"],
        wseat=[target.seat] if target.seat else None,
        bcat=list(call.bcat) or None,
        badv=list(call.badv) or None,
        test=1 if call.test else None,
    )


def _imp(call: BidderCall, target: Target) -> ortb.Imp:
    ad_format = call.request.ad_format
    width, height = _size(call.request)
    banner = ortb.Banner(w=width, h=height, format=[ortb.Format(w=width, h=height)])
    video = ortb.Video(
        mimes=["video/mp4"],
        protocols=_VAST_PROTOCOLS,
        linearity=1,
        w=width,
        h=height,
        placement=5,  # 2.5: interstitial/slider/floating
        plcmt=3,  # 2.6: interstitial
    )
    return ortb.Imp(
        id=call.imp_id,
        tagid=target.tagid,
        bidfloor=Decimal(max(call.floor_micros, 0)) / _MICROS,
        bidfloorcur="USD",
        secure=1,
        instl=1 if ad_format in FULLSCREEN else 0,
        rwdd=1 if ad_format == "rewarded" else None,
        banner=banner if ad_format in ("banner", "interstitial", "app_open") else None,
        # interstitials take display or video, whichever pays more; rewarded is video only
        video=video if ad_format in ("interstitial", "rewarded") else None,
        native=ortb.Native(request=NATIVE_REQUEST, ver="1.2") if ad_format == "native" else None,
        ext=target.imp_ext,
    )


def _size(request: AuctionRequest) -> tuple[int, int]:
    if request.width and request.height:
        return request.width, request.height
    return _FULLSCREEN_SIZE if request.ad_format in FULLSCREEN else _BANNER_SIZE


def _app(request: AuctionRequest, publisher: ortb.Publisher | None) -> ortb.App:
    return ortb.App(
        id=request.app_id, bundle=request.bundle_id, ver=request.app_version, publisher=publisher
    )


def _device(request: AuctionRequest, personalised: bool) -> ortb.Device:
    device = request.device
    ip = device.ip
    v6 = ip is not None and ":" in ip
    os_name = device.os or (request.platform if request.platform in ("android", "ios") else None)
    country = alpha3(device.country)
    return ortb.Device(
        ua=device.user_agent,
        ip=None if v6 else ip,
        ipv6=ip if v6 else None,
        ifa=device.ifa if personalised else None,  # no advertising id without a personalised basis
        lmt=1 if request.privacy.limit_ad_tracking else 0,
        devicetype=_device_type(request),
        make=device.make,
        model=device.model,
        os=_OS_NAMES.get(os_name.lower(), os_name) if os_name else None,
        osv=device.os_version,
        w=device.screen_width,
        h=device.screen_height,
        language=_language(device.language),
        connectiontype=_CONNECTION_TYPES.get((device.connection_type or "").lower()),
        geo=ortb.Geo(country=country) if country else None,
    )


def _device_type(request: AuctionRequest) -> int | None:
    if request.platform == "ctv":
        return 3  # connected TV
    if request.platform in ("android", "ios", "unity"):
        return 1  # mobile/tablet: the SDKs do not say which
    return None  # web: a page on any kind of device


def _language(language: str | None) -> str | None:
    """ISO 639-1 (two letters) as OpenRTB wants, from a tag such as "en-US" or "pt_BR"."""
    primary = (language or "").replace("_", "-").split("-")[0].lower()
    return primary if len(primary) == 2 and primary.isalpha() else None


def _user(privacy: Privacy) -> ortb.User | None:
    if not privacy.gdpr_applies or not privacy.tcf_consent:
        return None
    return ortb.User(consent=privacy.tcf_consent, ext={"consent": privacy.tcf_consent})


def _regs(privacy: Privacy) -> ortb.Regs:
    gdpr = None if privacy.gdpr_applies is None else int(privacy.gdpr_applies)
    ext: dict[str, Any] = {}
    if gdpr is not None:
        ext["gdpr"] = gdpr
    if privacy.us_privacy:
        ext["us_privacy"] = privacy.us_privacy
    return ortb.Regs(
        coppa=int(privacy.coppa),
        gdpr=gdpr,
        us_privacy=privacy.us_privacy or None,
        gpp=privacy.gpp or None,
        gpp_sid=list(privacy.gpp_sid) or None,
        ext=ext or None,
    )


def _source(call: BidderCall) -> ortb.Source:
    node = ortb.SupplyChainNode(asi=call.schain_asi, sid=call.publisher_id, hp=1)
    schain = ortb.SupplyChain(complete=1, ver="1.0", nodes=[node])
    return ortb.Source(tid=call.request.request_id, schain=schain, ext={"schain": schain})
