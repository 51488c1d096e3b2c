"""The adapter contract (the Prebid Server pattern): an adapter does no I/O.

`build_requests` turns one bidder call into HTTP request descriptions; `parse_response` turns the
HTTP response into bids. The exchange alone does the HTTP, the deadlines, the metrics and the
trace, once for every adapter. Networks whose server API is not public take part as client-side
waterfall instances (`mode = "client"`): the SDK loads them with the publisher's network placement
id, and the exchange ranks them by the publisher's eCPM estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import msgspec

from apex_mediation.auction.model import AuctionRequest

Mode = Literal["s2s", "client"]


@dataclass(frozen=True)
class BidderCall:
    """Everything an adapter may read to build its requests for one auction."""

    request: AuctionRequest  # after the privacy policy: ids stripped, IP truncated as decided
    imp_id: str  # the impression id to use in the outbound request
    floor_micros: int  # the effective floor in USD micros (bidders may bid in other currencies)
    tmax_ms: int  # the time this bidder has, already net of the exchange's buffer
    params: dict[str, Any]  # the placement line's params, validated by the adapter's model
    credentials: dict[str, str]  # the publisher's own network credentials (decrypted)
    personalised: bool  # False: the privacy policy allows no personalised ads
    schain_asi: str = "apex-mediation.local"  # our advertising system domain for source.schain
    publisher_id: str = ""
    test: bool = False
    bcat: tuple[str, ...] = ()
    badv: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpCall:
    method: Literal["GET", "POST"]
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Bid:
    bid_id: str
    imp_id: str
    price: str  # decimal string as the bidder sent it, in `currency` (no float rounding)
    currency: str  # ISO 4217, upper case
    ad_markup: str | None = None
    creative_id: str | None = None
    adomain: tuple[str, ...] = ()
    nurl: str | None = None  # win notice
    burl: str | None = None  # billing notice
    lurl: str | None = None  # loss notice
    mtype: int | None = None  # OpenRTB 2.6 markup type: 1 banner, 2 video, 3 audio, 4 native
    deal_id: str | None = None
    width: int | None = None
    height: int | None = None
    click_url: str | None = None  # where /t/click may redirect; host must be allowed


@dataclass(frozen=True)
class ParseResult:
    bids: list[Bid] = field(default_factory=list)
    no_bid_reason: str | None = None  # e.g. "http 204", "nbr=2"
    errors: list[str] = field(default_factory=list)


class AdapterError(Exception):
    """The adapter cannot build a request from this input (bad params, unsupported format)."""


class Adapter(Protocol):
    name: ClassVar[str]  # network id, matches placement lines' `network`
    display_name: ClassVar[str]
    mode: ClassVar[Mode]
    gvl_id: ClassVar[int | None]  # IAB TCF Global Vendor List id, None if not registered
    # TCF purposes the network needs consent (or legitimate interest) for before it is called.
    purposes: ClassVar[frozenset[int]]
    params_type: ClassVar[type[msgspec.Struct]]  # the placement line params
    credentials_type: ClassVar[type[msgspec.Struct]]  # the network account credentials
    formats: ClassVar[frozenset[str]]  # ad formats it can serve

    def build_requests(self, call: BidderCall) -> list[HttpCall]: ...

    def parse_response(self, call: BidderCall, sent: HttpCall, reply: HttpReply) -> ParseResult: ...
