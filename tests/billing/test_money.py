from __future__ import annotations

import pytest

from apex_mediation.billing.money import (
    band_range,
    format_cents,
    format_micros_as_dollars,
    format_rate_ppm,
    micros_to_cents,
)


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (0, "USD", "$0.00"),
        (1, "USD", "$0.01"),
        (99, "USD", "$0.99"),
        (100, "USD", "$1.00"),
        (1_234_567, "USD", "$12,345.67"),
        (100_000_000_000, "USD", "$1,000,000,000.00"),
        (-1_234, "USD", "-$12.34"),
        (-5, "USD", "-$0.05"),
        (1_234_567, "usd", "$12,345.67"),
        (1_234_567, "EUR", "EUR 12,345.67"),
        (-250, "EUR", "-EUR 2.50"),
    ],
)
def test_format_cents(cents: int, currency: str, text: str) -> None:
    assert format_cents(cents, currency) == text


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "$0.00"),
        (4_999, "$0.00"),  # below half a cent
        (5_000, "$0.01"),  # exactly half: up
        (14_999, "$0.01"),
        (15_000, "$0.02"),
        (1_234_565_000, "$1,234.57"),
        (1_000_000, "$1.00"),
        (10**15, "$1,000,000,000.00"),
        (10**15 + 5_000, "$1,000,000,000.01"),  # exact at a size where a float is not
        (-4_999, "$0.00"),  # no "-$0.00"
        (-5_000, "-$0.01"),  # half away from zero: a credit mirrors its charge
        (-1_234_565_000, "-$1,234.57"),
    ],
)
def test_format_micros_rounds_half_up_to_cents(micros: int, text: str) -> None:
    assert format_micros_as_dollars(micros) == text


def test_micros_to_cents_is_symmetric() -> None:
    for micros in (0, 1, 4_999, 5_000, 123_456_789, 10**15 + 5_000):
        assert micros_to_cents(-micros) == -micros_to_cents(micros)


@pytest.mark.parametrize(
    ("ppm", "text"),
    [
        (0, "0 %"),
        (1, "0.0001 %"),
        (10_000, "1 %"),
        (15_000, "1.5 %"),
        (25_000, "2.5 %"),
        (12_345, "1.2345 %"),
        (100_000, "10 %"),
        (1_000_000, "100 %"),
    ],
)
def test_format_rate_ppm(ppm: int, text: str) -> None:
    assert format_rate_ppm(ppm) == text


@pytest.mark.parametrize("ppm", [-1, 1_000_001])
def test_format_rate_refuses_out_of_range(ppm: int) -> None:
    with pytest.raises(ValueError, match="between 0 and"):
        format_rate_ppm(ppm)


@pytest.mark.parametrize(
    ("lower", "upper", "text"),
    [
        (0, 10_000_000_000, "$0 \u2013 $10,000"),
        (10_000_000_000, 100_000_000_000, "$10,000 \u2013 $100,000"),
        (500_000_000_000, None, "above $500,000"),
        (0, 2_500_000, "$0 \u2013 $2.50"),  # a bound with cents keeps them
        (10**15, None, "above $1,000,000,000"),
    ],
)
def test_band_range(lower: int, upper: int | None, text: str) -> None:
    assert band_range(lower, upper) == text


@pytest.mark.parametrize(("lower", "upper"), [(-1, 10), (10, 10), (10, 5)])
def test_band_range_refuses_nonsense(lower: int, upper: int | None) -> None:
    with pytest.raises(ValueError, match="band"):
        band_range(lower, upper)


@pytest.mark.parametrize("value", [12.5, True, "100"])
def test_non_integers_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        format_cents(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        format_micros_as_dollars(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        format_rate_ppm(value)  # type: ignore[arg-type]
