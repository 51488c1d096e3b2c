"""Client-side networks: waterfall instances that the app loads through the network's own SDK.

The server never calls these networks. It ranks each instance by the publisher's eCPM estimate,
and the Apex SDK asks the network's SDK for an ad with the ids in the line's params and the
account's credentials. The models below exist so that those ids are checked when the publisher
saves them, not when an ad fails to load on a phone.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from apex_mediation.auction.adapters._tcf import BASIC_ADS
from apex_mediation.auction.adapters.base import (
    AdapterError,
    BidderCall,
    HttpCall,
    HttpReply,
    Mode,
    ParseResult,
)

__all__ = ["CLIENT_SIDE", "ClientSideAdapter"]

CLIENT_SIDE = "client-side network: loaded by the SDK"


class ClientSideAdapter:
    name: ClassVar[str]
    display_name: ClassVar[str]
    mode: ClassVar[Mode] = "client"
    gvl_id: ClassVar[int | None] = None
    purposes: ClassVar[frozenset[int]] = BASIC_ADS
    params_type: ClassVar[type[msgspec.Struct]]
    credentials_type: ClassVar[type[msgspec.Struct]]
    formats: ClassVar[frozenset[str]]

    def build_requests(self, call: BidderCall) -> list[HttpCall]:
        raise AdapterError(CLIENT_SIDE)

    def parse_response(self, call: BidderCall, sent: HttpCall, reply: HttpReply) -> ParseResult:
        return ParseResult(errors=[CLIENT_SIDE])  # unreachable: nothing was sent
