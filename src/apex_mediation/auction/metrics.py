"""Auction metrics per network: calls by outcome, latency, and the auctions themselves."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apex_mediation.auction.breaker import Breakers

bidder_calls_total = Counter(
    "auction_bidder_calls_total", "Bidder calls by network and outcome", ["network", "outcome"]
)
bidder_latency_seconds = Histogram(
    "auction_bidder_latency_seconds",
    "Bidder answer latency",
    ["network"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0),
)
# Calls not made: the circuit is open, or too little of the auction's time was left.
bidder_skipped_total = Counter(
    "auction_bidder_skipped_total",
    "Bidder calls skipped, by network and reason",
    ["network", "reason"],
)
circuit_opened_total = Counter(
    "auction_circuit_opened_total", "Times a bidder's circuit breaker opened", ["network"]
)
auctions_total = Counter(
    "auction_auctions_total", "Auctions by format and result", ["format", "result"]
)
auction_duration_seconds = Histogram(
    "auction_duration_seconds",
    "Auction duration inside the exchange",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0),
)


def observe_bidder(network: str, outcome: str, latency_ms: float | None) -> None:
    bidder_calls_total.labels(network, outcome).inc()
    if latency_ms is not None:
        bidder_latency_seconds.labels(network).observe(latency_ms / 1000)


def observe_auction(ad_format: str, filled: bool, duration_ms: float) -> None:
    auctions_total.labels(ad_format, "fill" if filled else "no_fill").inc()
    auction_duration_seconds.observe(duration_ms / 1000)


class _CircuitCollector(Collector):
    """auction_circuits_not_closed{network}: circuits open or half-open now, read at scrape
    time from every exchange of the process."""

    _labelnames = ("network",)  # named like prometheus_client's metrics, for introspection

    def __init__(self) -> None:
        self.breakers: weakref.WeakSet[Breakers] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "auction_circuits_not_closed",
            "Bidder circuits open or half-open now, by network",
            labels=list(self._labelnames),
        )
        totals: dict[str, int] = {}
        for breakers in list(self.breakers):
            for network, count in breakers.not_closed_by_network().items():
                totals[network] = totals.get(network, 0) + count
        for network, count in sorted(totals.items()):
            family.add_metric([network], count)
        yield family


_CIRCUITS = _CircuitCollector()
REGISTRY.register(_CIRCUITS)


def watch_breakers(breakers: Breakers) -> None:
    _CIRCUITS.breakers.add(breakers)
