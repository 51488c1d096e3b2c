"""Google AdMob: a client-side waterfall instance.

Google publishes no server-to-server bidding endpoint that another mediation platform can call
with a publisher's AdMob account; AdMob demand reaches an app only through the Google Mobile Ads
SDK. The Apex SDK loads the ad unit below through it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Model
from apex_mediation.auction.adapters.client import ClientSideAdapter

AdUnitId = Annotated[str, msgspec.Meta(pattern=r"^ca-app-pub-\d+/\d+$")]
AppId = Annotated[str, msgspec.Meta(pattern=r"^ca-app-pub-\d+~\d+$")]


class AdMobParams(Model):
    ad_unit_id: AdUnitId  # ca-app-pub-<publisher>/<unit>


class AdMobCredentials(Model):
    # The app id lives in the app's manifest / Info.plist; kept here only to cross-check units.
    app_id: AppId | None = None  # ca-app-pub-<publisher>~<app>


class AdMobAdapter(ClientSideAdapter):
    name: ClassVar[str] = "admob"
    display_name: ClassVar[str] = "Google AdMob"
    gvl_id: ClassVar[int | None] = 755  # Google Advertising Products
    # Google's TCF policy for non-personalised ads: consent for purpose 1 and a legal basis
    # (consent or legitimate interest) for 2, 7, 9 and 10.
    purposes: ClassVar[frozenset[int]] = frozenset({1, 2, 7, 9, 10})
    params_type: ClassVar[type[msgspec.Struct]] = AdMobParams
    credentials_type: ClassVar[type[msgspec.Struct]] = AdMobCredentials
    formats: ClassVar[frozenset[str]] = frozenset(
        {"banner", "interstitial", "rewarded", "native", "app_open"}
    )
