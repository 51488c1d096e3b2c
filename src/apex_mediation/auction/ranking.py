"""Floors, pricing and the hybrid ranking of bids against waterfall instances.

All amounts are integer USD micros. Bids carry a real price; waterfall instances carry the
publisher's eCPM estimate; both compete on eCPM. On equal eCPM a bid ranks above an estimate
(a price is firmer than an estimate), then the earlier answer ranks first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SECOND_PRICE_INCREMENT_MICROS = 10_000  # $0.01 CPM


def effective_floor(
    placement_floor: int, country_floor: int | None, client_floor: int | None
) -> int:
    """max(placement floor, country floor, client floor): the client can raise, never lower."""
    return max(placement_floor, country_floor or 0, client_floor or 0)


@dataclass(frozen=True)
class Candidate:
    kind: Literal["bid", "waterfall"]
    network: str
    ecpm_micros: int
    order: int  # arrival (bids) or priority (waterfall): the tie-break
    ref: int  # index into the exchange's own list of outcomes


def rank(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.ecpm_micros, c.kind != "bid", c.order))


def clearing_price(ranked: list[Candidate], floor_micros: int, auction_type: str) -> int | None:
    """What the winner pays. First price: its bid. Second price: max(next price, floor) + $0.01,
    never above its own bid. None when nothing won."""
    if not ranked:
        return None
    winner = ranked[0]
    if auction_type != "second_price" or winner.kind != "bid":
        return winner.ecpm_micros
    runner_up = ranked[1].ecpm_micros if len(ranked) > 1 else 0
    return min(winner.ecpm_micros, max(runner_up, floor_micros) + SECOND_PRICE_INCREMENT_MICROS)


def adjust(price_micros: int, bid_adjustment_ppm: int) -> int:
    """Apply a network account's bid adjustment (parts per million), rounding half down."""
    return (price_micros * bid_adjustment_ppm) // 1_000_000
