"""The marginal fee: exact figures at and around each boundary, and properties over any revenue:
monotone, continuous (a micro more revenue never costs more than the top rate of a micro), and
invoice lines that add up to the fee rounded to the cent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apex_mediation.billing.fees import (
    MICROS_PER_CENT,
    MICROS_PER_DOLLAR,
    FeeConfigError,
    cents_of_lines,
    parse_bands,
)
from apex_mediation.settings import Settings

DEFAULT = parse_bands(Settings.model_fields["fee_bands"].default)
USD = MICROS_PER_DOLLAR
REVENUE = st.integers(min_value=0, max_value=10**15)  # up to $1bn a month


@pytest.mark.parametrize(
    ("revenue_usd", "fee_usd_cents"),
    [
        (0, 0),
        (10_000, 0),  # Starter: free up to $10k
        (20_000, 25_000),  # 2.5 % of the $10k above it
        (100_000, 225_000),  # 2.5 % of $90k
        (150_000, 325_000),  # + 2 % of $50k
        (500_000, 1_025_000),  # + 2 % of $400k
        (1_000_000, 1_775_000),  # + 1.5 % of $500k
    ],
)
def test_fee_at_known_revenues(revenue_usd: int, fee_usd_cents: int) -> None:
    assert DEFAULT.fee_micros(revenue_usd * USD) == fee_usd_cents * MICROS_PER_CENT


def test_no_jump_at_a_boundary() -> None:
    for boundary in (10_000, 100_000, 500_000):
        below = DEFAULT.fee_micros(boundary * USD - 1)
        at = DEFAULT.fee_micros(boundary * USD)
        above = DEFAULT.fee_micros(boundary * USD + 1)
        assert 0 <= at - below <= 1 and 0 <= above - at <= 1


def test_a_contracted_enterprise_rate_changes_only_the_top_band() -> None:
    contracted = DEFAULT.with_top_rate(10_000)  # 1 %
    assert contracted.fee_micros(500_000 * USD) == DEFAULT.fee_micros(500_000 * USD)
    assert contracted.fee_micros(600_000 * USD) == DEFAULT.fee_micros(500_000 * USD) + 1_000 * USD


@given(REVENUE, st.integers(min_value=0, max_value=10**12))
def test_fee_is_monotone(revenue: int, more: int) -> None:
    assert DEFAULT.fee_micros(revenue + more) >= DEFAULT.fee_micros(revenue)


@given(REVENUE)
def test_fee_is_continuous(revenue: int) -> None:
    top = max(band.rate_ppm for band in DEFAULT.bands)
    step = DEFAULT.fee_micros(revenue + 1) - DEFAULT.fee_micros(revenue)
    assert 0 <= step <= -(-top // 1_000_000)  # at most one micro per micro of revenue


@given(REVENUE)
def test_bands_partition_the_revenue(revenue: int) -> None:
    parts = DEFAULT.split(revenue)
    assert sum(part.revenue_micros for part in parts) == revenue
    assert DEFAULT.fee_micros(revenue) <= revenue * max(b.rate_ppm for b in DEFAULT.bands)


@given(st.lists(st.integers(min_value=0, max_value=10**13), min_size=1, max_size=6))
def test_line_cents_add_up_to_the_rounded_total(fees: list[int]) -> None:
    cents = cents_of_lines(fees)
    assert sum(cents) == (sum(fees) + MICROS_PER_CENT // 2) // MICROS_PER_CENT
    for fee, cent in zip(fees, cents, strict=True):
        assert fee // MICROS_PER_CENT <= cent <= fee // MICROS_PER_CENT + 1


@given(REVENUE)
def test_an_invoice_adds_up_to_its_usage(revenue: int) -> None:
    parts = DEFAULT.split(revenue)
    cents = cents_of_lines([part.fee_micros for part in parts])
    total_micros = DEFAULT.fee_micros(revenue)
    assert sum(cents) == (total_micros + MICROS_PER_CENT // 2) // MICROS_PER_CENT


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no bands"),
        ("a=10:0,b=5:100,c=:0", "ends before it starts"),
        ("a=10:0,b=20:100", "only the last band"),
        ("a=:0,b=:0", "only the last band"),
        ("a=10:2000000,b=:0", "between 0 and"),
        ("a=ten:0,b=:0", "non-integer"),
        ("a10:0", "name=upper_usd:rate_ppm"),
    ],
)
def test_bad_band_configuration_is_named(text: str, problem: str) -> None:
    with pytest.raises(FeeConfigError, match=problem):
        parse_bands(text)
