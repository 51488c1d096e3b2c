"""ironSource Ads (Unity LevelPlay's network): a client-side waterfall instance.

ironSource demand is reached through the ironSource/LevelPlay SDK; no public server-to-server
OpenRTB endpoint for a publisher's account is known. The Apex SDK initialises the SDK with the app
key and loads the instance.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Digits, Model
from apex_mediation.auction.adapters.client import ClientSideAdapter

AppKey = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{4,32}$")]


class IronSourceParams(Model):
    instance_id: Digits  # "0" is the default instance


class IronSourceCredentials(Model):
    app_key: AppKey


class IronSourceAdapter(ClientSideAdapter):
    name: ClassVar[str] = "ironsource"
    display_name: ClassVar[str] = "ironSource Ads (LevelPlay)"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = IronSourceParams
    credentials_type: ClassVar[type[msgspec.Struct]] = IronSourceCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded"})
