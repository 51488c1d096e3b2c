from __future__ import annotations

import msgspec
import pytest

from apex_mediation.auction.adapters.base import Adapter
from apex_mediation.auction.adapters.registry import ADAPTERS, get_adapter, validate_line

NAMED = {
    "admob", "applovin", "meta", "unity", "ironsource", "mintegral",
    "pangle", "vungle", "inmobi", "chartboost", "dtexchange", "moloco",
}  # fmt: skip
FORMATS = {"banner", "interstitial", "rewarded", "native", "app_open"}


def test_the_generic_bidder_and_the_twelve_networks() -> None:
    assert set(ADAPTERS) == NAMED | {"openrtb"}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_adapter_declares_the_contract(name: str) -> None:
    adapter: Adapter = ADAPTERS[name]
    assert adapter.name == name and get_adapter(name) is adapter
    assert adapter.display_name
    assert adapter.mode in ("s2s", "client")
    assert adapter.gvl_id is None or adapter.gvl_id > 0
    assert {1, 2, 7} <= adapter.purposes <= set(range(1, 12))
    assert issubclass(adapter.params_type, msgspec.Struct)
    assert issubclass(adapter.credentials_type, msgspec.Struct)
    assert adapter.formats and adapter.formats <= FORMATS


def test_unknown_network() -> None:
    assert get_adapter("nope") is None
    [error] = validate_line("nope", {}, {})
    assert error.startswith("network: unknown network 'nope'")


def test_validate_line_reports_params_and_credentials_together() -> None:
    errors = validate_line("unity", {"placement_id": ""}, {})
    assert len(errors) == 2
    assert "params.placement_id" in errors[0]
    assert errors[1] == "credentials: Object missing required field `game_id`"
