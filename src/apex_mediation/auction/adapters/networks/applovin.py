"""AppLovin (the AppLovin SDK's demand, as MAX's network): a client-side waterfall instance.

AppLovin documents bidding only through mediation SDKs (its own MAX, or its adapters in other
mediation SDKs); no public server-to-server OpenRTB endpoint for a publisher's account is known.
The Apex SDK initialises the AppLovin SDK with the SDK key and loads the zone.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Model, Token
from apex_mediation.auction.adapters.client import ClientSideAdapter

ZoneId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]


class AppLovinParams(Model):
    zone_id: ZoneId  # the AppLovin zone (waterfall placement) to load


class AppLovinCredentials(Model):
    sdk_key: Token  # from the AppLovin dashboard, Account > Keys


class AppLovinAdapter(ClientSideAdapter):
    name: ClassVar[str] = "applovin"
    display_name: ClassVar[str] = "AppLovin"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = AppLovinParams
    credentials_type: ClassVar[type[msgspec.Struct]] = AppLovinCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded", "native"})
