"""Unity Ads: a client-side waterfall instance.

Unity Ads bidding is offered through mediation SDKs (LevelPlay and partners); no public
server-to-server OpenRTB endpoint for a publisher's Unity account is known. The Apex SDK
initialises Unity Ads with the game id and loads the placement.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Digits, Model
from apex_mediation.auction.adapters.client import ClientSideAdapter

PlacementId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{1,100}$")]


class UnityParams(Model):
    placement_id: PlacementId  # e.g. "Rewarded_Android"


class UnityCredentials(Model):
    game_id: Digits  # one per store (Apple App Store / Google Play)


class UnityAdapter(ClientSideAdapter):
    name: ClassVar[str] = "unity"
    display_name: ClassVar[str] = "Unity Ads"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = UnityParams
    credentials_type: ClassVar[type[msgspec.Struct]] = UnityCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded"})
