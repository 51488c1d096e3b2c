"""InMobi: a server-side OpenRTB bidder.

InMobi maintains a Prebid Server adapter: its public configuration gives the endpoint below, and
docs.prebid.org gives the one parameter, `plc` (the publisher's InMobi placement id), which the
request carries in `imp.ext.bidder.plc`. The request is otherwise plain OpenRTB, for app and web.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from apex_mediation.auction.adapters._request import Target
from apex_mediation.auction.adapters._validation import (
    Digits,
    Model,
    NoCredentials,
    check_endpoint,
    load,
)
from apex_mediation.auction.adapters.base import BidderCall
from apex_mediation.auction.adapters.openrtb import OpenRtbAdapter

ENDPOINT = "https://api.w.inmobi.com/showad/openrtb/bidder/prebid"


class InMobiParams(Model):
    plc: Digits  # the InMobi placement id, set up with InMobi for this integration
    endpoint: str = ENDPOINT  # overridable for a local fake bidder or a regional host

    def __post_init__(self) -> None:
        check_endpoint(self.endpoint)


class InMobiAdapter(OpenRtbAdapter):
    name: ClassVar[str] = "inmobi"
    display_name: ClassVar[str] = "InMobi"
    # InMobi (docs.prebid.org and the Prebid Server bidder info)
    gvl_id: ClassVar[int | None] = 333
    params_type: ClassVar[type[msgspec.Struct]] = InMobiParams
    # the placement id is all the endpoint takes
    credentials_type: ClassVar[type[msgspec.Struct]] = NoCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded", "native"})
    # what Prebid Server speaks to bidders that do not declare 2.6
    openrtb_version: ClassVar[str] = "2.5"

    def target(self, call: BidderCall) -> Target:
        params = load(InMobiParams, call.params, "params")
        load(NoCredentials, call.credentials, "credentials")
        return Target(
            endpoint=params.endpoint, tagid=params.plc, imp_ext={"bidder": {"plc": params.plc}}
        )
