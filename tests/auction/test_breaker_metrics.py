"""The circuit-state gauge: open and half-open circuits per network, read at scrape time from
the exchange's breakers (a network's several accounts each have their own)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from apex_mediation.auction.breaker import Breakers
from apex_mediation.auction.metrics import watch_breakers


def _open(network: str) -> float:
    return REGISTRY.get_sample_value("auction_circuits_not_closed", {"network": network}) or 0.0


def test_open_circuits_are_counted_per_network() -> None:
    breakers = Breakers(failure_threshold=2, cooldown_s=60)
    watch_breakers(breakers)
    network = "gauge-test-network"
    for account in ("acct-1", "acct-2", "acct-3"):
        breakers.get(account, network)
    assert _open(network) == 0
    for account in ("acct-1", "acct-2"):
        for _ in range(2):
            breakers.get(account, network).record(ok=False)
    assert _open(network) == 2
    breakers.get("acct-1", network).record(ok=True)
    assert _open(network) == 1
