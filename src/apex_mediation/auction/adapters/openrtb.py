"""A generic OpenRTB 2.6 bidder: usable as-is for any network with an OpenRTB endpoint.

The named networks that bid server-to-server subclass `OpenRtbAdapter` and override `target()`:
it reads their own params and credentials and says where the request goes and which of their ids
it carries. Everything else (the request, the response rules) is the same for all of them.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import ClassVar

import msgspec

from apex_mediation.auction.adapters import _ortb as ortb
from apex_mediation.auction.adapters._request import Target, bid_request
from apex_mediation.auction.adapters._tcf import BASIC_ADS
from apex_mediation.auction.adapters._validation import Model, check_endpoint, check_header, load
from apex_mediation.auction.adapters.base import (
    AdapterError,
    Bid,
    BidderCall,
    HttpCall,
    HttpReply,
    Mode,
    ParseResult,
)

__all__ = ["OpenRtbAdapter", "OpenRtbCredentials", "OpenRtbParams", "Target", "parse_bid_response"]

ALL_FORMATS = frozenset({"banner", "interstitial", "rewarded", "native", "app_open"})
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class OpenRtbParams(Model):
    """A placement line's params for a generic OpenRTB bidder."""

    endpoint: str  # https; plain http only to this machine
    tagid: str | None = None  # the bidder's id for this placement, sent as imp.tagid
    seat: str | None = None  # the one buyer seat to accept (sent as wseat)

    def __post_init__(self) -> None:
        check_endpoint(self.endpoint)


class OpenRtbCredentials(Model):
    """An optional static auth header, e.g. `X-Api-Key: …`, sent with every bid request."""

    auth_header: str | None = None
    auth_token: str | None = None

    def __post_init__(self) -> None:
        check_header(self.auth_header, self.auth_token)


class OpenRtbAdapter:
    name: ClassVar[str] = "openrtb"
    display_name: ClassVar[str] = "OpenRTB 2.6 bidder"
    mode: ClassVar[Mode] = "s2s"
    gvl_id: ClassVar[int | None] = None  # a generic bidder: the line's network decides
    purposes: ClassVar[frozenset[int]] = BASIC_ADS
    params_type: ClassVar[type[msgspec.Struct]] = OpenRtbParams
    credentials_type: ClassVar[type[msgspec.Struct]] = OpenRtbCredentials
    formats: ClassVar[frozenset[str]] = ALL_FORMATS
    openrtb_version: ClassVar[str] = "2.6"  # sent as X-Openrtb-Version

    def target(self, call: BidderCall) -> Target:
        """Where this call goes, from the line's params and the account's credentials."""
        params = load(OpenRtbParams, call.params, "params")
        credentials = load(OpenRtbCredentials, call.credentials, "credentials")
        headers = {}
        if credentials.auth_header and credentials.auth_token:
            headers[credentials.auth_header] = credentials.auth_token
        return Target(
            endpoint=params.endpoint, tagid=params.tagid, seat=params.seat, headers=headers
        )

    def build_requests(self, call: BidderCall) -> list[HttpCall]:
        target = self.target(call)
        if call.request.ad_format not in self.formats:
            raise AdapterError(f"{self.name} does not serve {call.request.ad_format} ads")
        headers = {
            "Content-Type": "application/json",
            "X-Openrtb-Version": self.openrtb_version,
            **target.headers,
        }
        body = ortb.ENCODER.encode(bid_request(call, target))
        return [HttpCall(method="POST", url=target.endpoint, headers=headers, body=body)]

    def parse_response(self, call: BidderCall, sent: HttpCall, reply: HttpReply) -> ParseResult:
        try:
            seat = self.target(call).seat
        except AdapterError as error:
            return ParseResult(errors=[str(error)])
        return parse_bid_response(call, reply, seat=seat)


def parse_bid_response(call: BidderCall, reply: HttpReply, *, seat: str | None) -> ParseResult:
    """The bids of one OpenRTB response; never raises, whatever the bidder sent."""
    if reply.status == 204:
        return ParseResult(no_bid_reason="http 204")
    if not 200 <= reply.status < 300:
        return ParseResult(errors=[_http_error(reply)])
    if not reply.body.strip():
        return ParseResult(no_bid_reason="empty body")
    try:
        response = ortb.DECODER.decode(reply.body)
    except msgspec.DecodeError as error:  # also ValidationError: JSON of the wrong shape
        return ParseResult(errors=[f"invalid bid response: {error}"])

    currency = (response.cur or "USD").upper()
    if not _CURRENCY.match(currency):
        return ParseResult(errors=[f"invalid currency {response.cur!r}"])
    seatbids = response.seatbid or []
    if not any(seatbid.bid for seatbid in seatbids):
        reason = "no bids" if response.nbr is None else f"nbr={response.nbr}"
        return ParseResult(no_bid_reason=reason)

    bids: list[Bid] = []
    errors: list[str] = []
    for seatbid in seatbids:
        if seat is not None and seatbid.seat != seat:
            errors.append(f"seat {seatbid.seat!r} is not the configured seat {seat!r}: skipped")
            continue
        for bid in seatbid.bid or []:
            price = _checked_price(bid, call.imp_id)
            if isinstance(price, str):
                errors.append(f"bid {bid.id!r}: {price}")
            else:
                bids.append(_bid(bid, price, currency))
    return ParseResult(bids=bids, errors=errors)


def _checked_price(bid: ortb.ResponseBid, imp_id: str) -> Decimal | str:
    """The bid's price if the bid is usable, else what is wrong with it."""
    if not bid.id:
        return "missing id"
    if bid.impid != imp_id:
        return f"impid {bid.impid!r} was not requested (expected {imp_id!r})"
    if bid.price is None:
        return "missing price"
    if not bid.price.is_finite() or bid.price <= 0:
        return f"price {bid.price} is not positive"
    if not bid.adm and not bid.nurl:
        return "no markup: neither adm nor nurl"
    return bid.price


def _bid(bid: ortb.ResponseBid, price: Decimal, currency: str) -> Bid:
    return Bid(
        bid_id=bid.id,
        imp_id=bid.impid,
        price=format(price, "f"),  # "1.50" stays "1.50"; 1e2 becomes "100"
        currency=currency,
        ad_markup=bid.adm,
        creative_id=bid.crid,
        adomain=tuple(bid.adomain or ()),
        nurl=bid.nurl,
        burl=bid.burl,
        lurl=bid.lurl,
        mtype=bid.mtype,
        deal_id=bid.dealid,
        width=bid.w,
        height=bid.h,
    )


def _http_error(reply: HttpReply) -> str:
    text = " ".join(reply.body[:200].decode("utf-8", "replace").split())
    return f"http {reply.status}: {text}" if text else f"http {reply.status}"
