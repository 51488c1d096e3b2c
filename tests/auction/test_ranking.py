"""Floors, hybrid ranking and first/second price."""

from __future__ import annotations

import pytest

from apex_mediation.auction.ranking import (
    Candidate,
    adjust,
    clearing_price,
    effective_floor,
    rank,
)


@pytest.mark.parametrize(
    ("placement", "country", "client", "expected"),
    [
        (1_000_000, None, None, 1_000_000),
        (1_000_000, 2_000_000, None, 2_000_000),
        (1_000_000, None, 500_000, 1_000_000),  # a client floor never lowers the floor
        (1_000_000, 2_000_000, 3_000_000, 3_000_000),  # ... but can raise it
        (0, None, None, 0),
    ],
)
def test_floor_is_the_highest_of_the_three(
    placement: int, country: int | None, client: int | None, expected: int
) -> None:
    assert effective_floor(placement, country, client) == expected


def _c(kind: str, ecpm: int, order: int) -> Candidate:
    return Candidate(kind, f"{kind}{order}", ecpm, order=order, ref=order)  # type: ignore[arg-type]


def test_hybrid_ranking_by_ecpm_bids_win_ties_then_arrival() -> None:
    ranked = rank(
        [
            _c("waterfall", 3_000_000, 0),
            _c("bid", 2_000_000, 1),
            _c("bid", 3_000_000, 2),
            _c("waterfall", 5_000_000, 3),
            _c("bid", 3_000_000, 1),
        ]
    )
    assert [(c.kind, c.ecpm_micros, c.order) for c in ranked] == [
        ("waterfall", 5_000_000, 3),
        ("bid", 3_000_000, 1),
        ("bid", 3_000_000, 2),
        ("waterfall", 3_000_000, 0),
        ("bid", 2_000_000, 1),
    ]


def test_first_price_pays_the_bid() -> None:
    ranked = rank([_c("bid", 3_000_000, 0), _c("bid", 2_000_000, 1)])
    assert clearing_price(ranked, 1_000_000, "first_price") == 3_000_000


@pytest.mark.parametrize(
    ("bids", "floor", "expected"),
    [
        ([3_000_000, 2_000_000], 1_000_000, 2_010_000),  # second price + $0.01
        ([3_000_000, 500_000], 1_000_000, 1_010_000),  # floor above the second price
        ([3_000_000], 1_000_000, 1_010_000),  # alone: floor + $0.01
        ([1_005_000], 1_000_000, 1_005_000),  # never above its own bid
        ([2_000_000, 2_000_000], 0, 2_000_000),  # equal bids: capped at the bid
    ],
)
def test_second_price(bids: list[int], floor: int, expected: int) -> None:
    ranked = rank([_c("bid", price, i) for i, price in enumerate(bids)])
    assert clearing_price(ranked, floor, "second_price") == expected


def test_second_price_counts_a_waterfall_runner_up_and_a_waterfall_winner_pays_its_estimate() -> (
    None
):
    ranked = rank([_c("bid", 4_000_000, 0), _c("waterfall", 3_500_000, 1)])
    assert clearing_price(ranked, 0, "second_price") == 3_510_000
    ranked = rank([_c("waterfall", 4_000_000, 0), _c("bid", 3_500_000, 1)])
    assert clearing_price(ranked, 0, "second_price") == 4_000_000
    assert clearing_price([], 0, "second_price") is None


def test_bid_adjustment_in_ppm() -> None:
    assert adjust(2_000_000, 1_000_000) == 2_000_000
    assert adjust(2_000_000, 900_000) == 1_800_000
    assert adjust(1, 500_000) == 0
