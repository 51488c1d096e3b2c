"""What happened to every candidate in an auction: the explainable part of the auction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from apex_mediation.auction.adapters.base import Bid

OutcomeName = Literal[
    "bid",
    "no_bid",
    "timeout",
    "error",
    "circuit_open",
    "below_floor",
    "blocked_privacy",
    "blocked_ivt",
    "capped",
]


@dataclass
class CandidateOutcome:
    network: str
    kind: Literal["bidding", "waterfall"]
    account_id: str | None
    outcome: OutcomeName
    reason: str = ""
    latency_ms: float | None = None
    price_micros: int | None = None  # USD micros after currency conversion and adjustment
    bid_price: str | None = None  # as the bidder sent it
    bid_currency: str | None = None
    bid: Bid | None = None
    rank: int | None = None  # position in the response (0 = winner), None if not ranked
    privacy: tuple[str, ...] = ()
    line_params: dict[str, Any] = field(default_factory=dict)

    def as_trace(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "kind": self.kind,
            "outcome": self.outcome,
            "reason": self.reason,
            "latencyMs": round(self.latency_ms, 2) if self.latency_ms is not None else None,
            "priceMicros": self.price_micros,
            "bidPrice": self.bid_price,
            "bidCurrency": self.bid_currency,
            "rank": self.rank,
            "privacy": list(self.privacy),
        }
