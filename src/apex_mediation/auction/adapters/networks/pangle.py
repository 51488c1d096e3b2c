"""Pangle: a client-side waterfall instance.

Pangle has a Prebid Server adapter (docs.prebid.org) with an access token, but it "requires setup
with the Pangle team", the endpoint URL is not in the public documentation, and the request carries
Prebid-specific fields. Without a documented endpoint for a publisher's own account the Apex SDK
loads the placement through the Pangle SDK.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Digits, Model
from apex_mediation.auction.adapters.client import ClientSideAdapter


class PangleParams(Model):
    placement_id: Digits


class PangleCredentials(Model):
    app_id: Digits


class PangleAdapter(ClientSideAdapter):
    name: ClassVar[str] = "pangle"
    display_name: ClassVar[str] = "Pangle"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = PangleParams
    credentials_type: ClassVar[type[msgspec.Struct]] = PangleCredentials
    formats: ClassVar[frozenset[str]] = frozenset(
        {"banner", "interstitial", "rewarded", "native", "app_open"}
    )
