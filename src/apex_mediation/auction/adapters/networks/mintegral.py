"""Mintegral: a client-side waterfall instance.

Mintegral documents a "server-side header bidding" integration, but it needs a per-request token
from the Mintegral SDK (the buyer uid) that the Apex auction request does not carry, and the
endpoint and request format were not confirmed from Mintegral's own public pages. So the Apex SDK
loads the placement through the Mintegral SDK.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Digits, Model
from apex_mediation.auction.adapters.client import ClientSideAdapter

AppKey = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{32}$")]


class MintegralParams(Model):
    placement_id: Digits
    ad_unit_id: Digits  # Mintegral's "unit id" inside the placement


class MintegralCredentials(Model):
    app_id: Digits
    app_key: AppKey


class MintegralAdapter(ClientSideAdapter):
    name: ClassVar[str] = "mintegral"
    display_name: ClassVar[str] = "Mintegral"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = MintegralParams
    credentials_type: ClassVar[type[msgspec.Struct]] = MintegralCredentials
    formats: ClassVar[frozenset[str]] = frozenset(
        {"banner", "interstitial", "rewarded", "native", "app_open"}
    )
