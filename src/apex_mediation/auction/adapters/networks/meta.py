"""Meta Audience Network: a client-side instance (bidding through the Audience Network SDK).

Meta documents a server-to-server ORTB bidding endpoint for "in-house mediation", but marks it
closed beta and not publicly available, and it needs a bidder token from the Audience Network SDK
(user.buyeruid) that the Apex auction request does not carry. Audience Network is bidding-only:
a placement id used as a plain waterfall instance may not fill.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Model, NoCredentials
from apex_mediation.auction.adapters.client import ClientSideAdapter

PlacementId = Annotated[str, msgspec.Meta(pattern=r"^\d+_\d+$")]


class MetaParams(Model):
    placement_id: PlacementId  # <app id>_<placement number>, from Monetization Manager


class MetaAdapter(ClientSideAdapter):
    name: ClassVar[str] = "meta"
    display_name: ClassVar[str] = "Meta Audience Network"
    gvl_id: ClassVar[int | None] = None  # Meta is not known to be a registered TCF vendor
    params_type: ClassVar[type[msgspec.Struct]] = MetaParams
    credentials_type: ClassVar[type[msgspec.Struct]] = NoCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded", "native"})
