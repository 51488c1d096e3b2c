"""Moloco Ads: a client-side waterfall instance.

Moloco's public publisher documentation covers its SDK inside mediation platforms. An in-house
mediation endpoint is used by some open-source platforms, but it was not found in Moloco's own
public documentation and it needs a bid token from the Moloco SDK that the Apex auction request
does not carry.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Model, Token
from apex_mediation.auction.adapters.client import ClientSideAdapter

AdUnitId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,100}$")]


class MolocoParams(Model):
    ad_unit_id: AdUnitId


class MolocoCredentials(Model):
    app_key: Token  # from the Moloco Publisher Portal, Apps tab


class MolocoAdapter(ClientSideAdapter):
    name: ClassVar[str] = "moloco"
    display_name: ClassVar[str] = "Moloco Ads"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = MolocoParams
    credentials_type: ClassVar[type[msgspec.Struct]] = MolocoCredentials
    formats: ClassVar[frozenset[str]] = frozenset(
        {"banner", "interstitial", "rewarded", "native", "app_open"}
    )
