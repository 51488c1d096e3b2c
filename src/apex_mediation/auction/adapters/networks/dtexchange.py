"""DT Exchange (formerly Fyber Marketplace): a client-side waterfall instance.

DT Exchange's public OpenRTB documentation is for demand partners buying its supply, not for a
mediation platform calling it with a publisher's account; publishers reach it through the DT
Exchange SDK, which the Apex SDK drives with the app id and placement id below.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from apex_mediation.auction.adapters._validation import Digits, Model
from apex_mediation.auction.adapters.client import ClientSideAdapter


class DtExchangeParams(Model):
    placement_id: Digits  # called "spot id" in older DT / Fyber consoles


class DtExchangeCredentials(Model):
    app_id: Digits


class DtExchangeAdapter(ClientSideAdapter):
    name: ClassVar[str] = "dtexchange"
    display_name: ClassVar[str] = "DT Exchange"
    gvl_id: ClassVar[int | None] = None  # not verified against the GVL here
    params_type: ClassVar[type[msgspec.Struct]] = DtExchangeParams
    credentials_type: ClassVar[type[msgspec.Struct]] = DtExchangeCredentials
    formats: ClassVar[frozenset[str]] = frozenset({"banner", "interstitial", "rewarded"})
