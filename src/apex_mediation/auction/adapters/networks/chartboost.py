"""Chartboost: a client-side waterfall instance.

Chartboost demand is reached through the Chartboost SDK (directly or in mediation SDKs); no public
server-to-server OpenRTB endpoint for a publisher's account is known.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Hex24, Model, Name
from apex_mediation.auction.adapters.client import ClientSideAdapter

AppSignature = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{40}$")]


class ChartboostParams(Model):
    location: Name  # the ad location name, e.g. "Default" or "Level Complete"


class ChartboostCredentials(Model):
    app_id: Hex24
    app_signature: AppSignature


class ChartboostAdapter(ClientSideAdapter):
    name: ClassVar[str] = "chartboost"
    display_name: ClassVar[str] = "Chartboost"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = ChartboostParams
    credentials_type: ClassVar[type[msgspec.Struct]] = ChartboostCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded"})
