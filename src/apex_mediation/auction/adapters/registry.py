"""Every adapter by network name, and the checks of a line's params and an account's credentials.

Adapters hold no state and no resources, so one instance of each serves every auction.
"""

from __future__ import annotations

from typing import Any

from apex_mediation.auction.adapters._validation import problems
from apex_mediation.auction.adapters.base import Adapter
from apex_mediation.auction.adapters.networks.admob import AdMobAdapter
from apex_mediation.auction.adapters.networks.applovin import AppLovinAdapter
from apex_mediation.auction.adapters.networks.chartboost import ChartboostAdapter
from apex_mediation.auction.adapters.networks.dtexchange import DtExchangeAdapter
from apex_mediation.auction.adapters.networks.inmobi import InMobiAdapter
from apex_mediation.auction.adapters.networks.ironsource import IronSourceAdapter
from apex_mediation.auction.adapters.networks.meta import MetaAdapter
from apex_mediation.auction.adapters.networks.mintegral import MintegralAdapter
from apex_mediation.auction.adapters.networks.moloco import MolocoAdapter
from apex_mediation.auction.adapters.networks.pangle import PangleAdapter
from apex_mediation.auction.adapters.networks.unity import UnityAdapter
from apex_mediation.auction.adapters.networks.vungle import VungleAdapter
from apex_mediation.auction.adapters.openrtb import OpenRtbAdapter

__all__ = [
    "ADAPTERS",
    "get_adapter",
    "validate_credentials",
    "validate_line",
    "validate_params",
]

_ALL: tuple[Adapter, ...] = (
    OpenRtbAdapter(),
    AdMobAdapter(),
    AppLovinAdapter(),
    MetaAdapter(),
    UnityAdapter(),
    IronSourceAdapter(),
    MintegralAdapter(),
    PangleAdapter(),
    VungleAdapter(),
    InMobiAdapter(),
    ChartboostAdapter(),
    DtExchangeAdapter(),
    MolocoAdapter(),
)
ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in _ALL}


def get_adapter(name: str) -> Adapter | None:
    return ADAPTERS.get(name)


def validate_params(network: str, params: dict[str, Any]) -> list[str]:
    """Readable errors in a placement line's params (empty when valid)."""
    adapter = get_adapter(network)
    if adapter is None:
        return [_unknown(network)]
    return problems(adapter.params_type, params, "params")


def validate_credentials(network: str, credentials: dict[str, Any]) -> list[str]:
    """Readable errors in a network account's credentials (empty when valid)."""
    adapter = get_adapter(network)
    if adapter is None:
        return [_unknown(network)]
    return problems(adapter.credentials_type, credentials, "credentials")


def validate_line(network: str, params: dict[str, Any], credentials: dict[str, Any]) -> list[str]:
    """Readable errors in a line's params and its account's credentials together."""
    if get_adapter(network) is None:
        return [_unknown(network)]
    return validate_params(network, params) + validate_credentials(network, credentials)


def _unknown(network: str) -> str:
    return f"network: unknown network {network!r} (known: {', '.join(sorted(ADAPTERS))})"
