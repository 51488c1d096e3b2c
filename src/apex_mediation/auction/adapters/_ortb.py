"""The OpenRTB 2.6 objects Apex sends and reads, as msgspec Structs (the hot-path JSON library).

Outbound objects leave out every field that is None (`omit_defaults`), so a default must always be
None: a field that has to be on the wire is set explicitly. Inbound objects ignore unknown fields
and make everything optional, so that one malformed bid is reported and skipped instead of failing
the whole response.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

# -- outbound: BidRequest ---------------------------------------------------------------------


class _Out(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class Format(_Out):
    w: int
    h: int


class Banner(_Out):
    w: int | None = None
    h: int | None = None
    format: list[Format] | None = None


class Video(_Out):
    mimes: list[str]
    protocols: list[int] | None = None
    linearity: int | None = None
    w: int | None = None
    h: int | None = None
    placement: int | None = None  # 2.5 field, still read by most video bidders
    plcmt: int | None = None  # 2.6 replacement of `placement`


class Native(_Out):
    request: str  # the Native 1.2 request, JSON-encoded into a string as the spec says
    ver: str


class Imp(_Out):
    id: str
    tagid: str | None = None
    bidfloor: Decimal | None = None
    bidfloorcur: str | None = None
    secure: int | None = None
    instl: int | None = None
    rwdd: int | None = None
    banner: Banner | None = None
    video: Video | None = None
    native: Native | None = None
    ext: dict[str, Any] | None = None


class Publisher(_Out):
    id: str


class App(_Out):
    id: str | None = None
    bundle: str | None = None
    ver: str | None = None
    publisher: Publisher | None = None


class Site(_Out):
    domain: str | None = None
    page: str | None = None
    publisher: Publisher | None = None


class Geo(_Out):
    country: str | None = None


class Device(_Out):
    ua: str | None = None
    ip: str | None = None
    ipv6: str | None = None
    ifa: str | None = None
    lmt: int | None = None
    devicetype: int | None = None
    make: str | None = None
    model: str | None = None
    os: str | None = None
    osv: str | None = None
    w: int | None = None
    h: int | None = None
    language: str | None = None
    connectiontype: int | None = None
    geo: Geo | None = None


class User(_Out):
    consent: str | None = None
    ext: dict[str, Any] | None = None


class Regs(_Out):
    coppa: int | None = None
    gdpr: int | None = None
    us_privacy: str | None = None
    gpp: str | None = None
    gpp_sid: list[int] | None = None
    ext: dict[str, Any] | None = None


class SupplyChainNode(_Out):
    asi: str
    sid: str
    hp: int


class SupplyChain(_Out):
    complete: int
    ver: str
    nodes: list[SupplyChainNode]


class Source(_Out):
    tid: str | None = None
    schain: SupplyChain | None = None
    ext: dict[str, Any] | None = None


class BidRequest(_Out):
    id: str
    imp: list[Imp]
    app: App | None = None
    site: Site | None = None
    device: Device | None = None
    user: User | None = None
    regs: Regs | None = None
    source: Source | None = None
    at: int | None = None
    tmax: int | None = None
    cur: list[str] | None = None
    wseat: list[str] | None = None
    bcat: list[str] | None = None
    badv: list[str] | None = None
    test: int | None = None


# Decimals as JSON numbers (bidfloor 1.25, not "1.25"); one encoder, reused.
ENCODER = msgspec.json.Encoder(decimal_format="number")


# -- inbound: BidResponse ---------------------------------------------------------------------


class ResponseBid(msgspec.Struct, kw_only=True):
    id: str = ""
    impid: str = ""
    price: Decimal | None = None  # decoded from the JSON number's text: no float rounding
    adm: str | None = None
    nurl: str | None = None
    burl: str | None = None
    lurl: str | None = None
    adomain: list[str] | None = None
    crid: str | None = None
    mtype: int | None = None
    w: int | None = None
    h: int | None = None
    dealid: str | None = None


class SeatBid(msgspec.Struct, kw_only=True):
    bid: list[ResponseBid] | None = None
    seat: str | None = None


class BidResponse(msgspec.Struct, kw_only=True):
    id: str = ""
    seatbid: list[SeatBid] | None = None
    cur: str | None = None
    nbr: int | None = None


# Lenient about "300" for 300: a sloppy type in one field should not cost a bid.
DECODER = msgspec.json.Decoder(BidResponse, strict=False)
