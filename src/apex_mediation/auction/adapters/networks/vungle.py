"""Liftoff Monetize (Vungle): a client-side waterfall instance.

Liftoff maintains a Prebid Server adapter whose endpoint is specific to Prebid and whose bids need
a bid token from the Vungle SDK (user.buyeruid), which the Apex auction request does not carry.
The Apex SDK loads the placement through the Vungle SDK.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Hex24, Model
from apex_mediation.auction.adapters.client import ClientSideAdapter

PlacementReferenceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,100}$")]


class VungleParams(Model):
    placement_reference_id: PlacementReferenceId


class VungleCredentials(Model):
    app_id: Hex24


class VungleAdapter(ClientSideAdapter):
    name: ClassVar[str] = "vungle"
    display_name: ClassVar[str] = "Liftoff Monetize (Vungle)"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = VungleParams
    credentials_type: ClassVar[type[msgspec.Struct]] = VungleCredentials
    formats: ClassVar[frozenset[str]] = frozenset(
        {"banner", "interstitial", "rewarded", "native", "app_open"}
    )
