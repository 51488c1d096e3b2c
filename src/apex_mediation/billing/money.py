"""Money and rates as text, with integer arithmetic only: a float never touches an amount.

Negative amounts are formatted with a leading minus ("-$12.34"): credits and overpaid balances
are real, and refusing them would hide them. Rates and band bounds are never negative, so those
are refused instead.
"""

from __future__ import annotations

MICROS_PER_DOLLAR = 1_000_000
MICROS_PER_CENT = 10_000
PPM_PER_PERCENT = 10_000
PPM = 1_000_000

_SYMBOLS = {"USD": "$"}
EN_DASH = "\u2013"


def _require_int(name: str, value: object) -> None:
    # bool is an int subclass and float formatting would round silently: both are mistakes here.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def _grouped(whole: int) -> str:
    return f"{whole:,}"


def format_cents(cents: int, currency: str = "USD") -> str:
    """1234567 → "$12,345.67"; other currencies carry their code: "EUR 12,345.67"."""
    _require_int("cents", cents)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    amount = f"{_grouped(whole)}.{part:02d}"
    symbol = _SYMBOLS.get(currency.upper())
    if symbol is not None:
        return f"{sign}{symbol}{amount}"
    return f"{sign}{currency.upper()} {amount}"


def micros_to_cents(micros: int) -> int:
    """Rounded half-up in magnitude (half away from zero), so a credit mirrors its charge."""
    _require_int("micros", micros)
    cents = (abs(micros) + MICROS_PER_CENT // 2) // MICROS_PER_CENT
    return -cents if micros < 0 else cents


def format_micros_as_dollars(micros: int, currency: str = "USD") -> str:
    return format_cents(micros_to_cents(micros), currency)


def format_rate_ppm(ppm: int) -> str:
    """25000 → "2.5 %", 15000 → "1.5 %", 0 → "0 %", 12345 → "1.2345 %" (exact, no rounding)."""
    _require_int("ppm", ppm)
    if not 0 <= ppm <= PPM:
        raise ValueError(f"a rate must be between 0 and {PPM} ppm, got {ppm}")
    whole, part = divmod(ppm, PPM_PER_PERCENT)
    fraction = f"{part:04d}".rstrip("0")
    return f"{whole}.{fraction} %" if fraction else f"{whole} %"


def _bound(micros: int) -> str:
    # Band bounds are usually whole dollars; cents appear only when a bound really has them.
    if micros % MICROS_PER_DOLLAR == 0:
        return f"${_grouped(micros // MICROS_PER_DOLLAR)}"
    return format_micros_as_dollars(micros)


def band_range(lower_micros: int, upper_micros: int | None) -> str:
    """A bounded band's ends joined by an en dash ("$0", "$10,000"); "above $500,000" for the
    unbounded last one."""
    _require_int("lower_micros", lower_micros)
    if lower_micros < 0:
        raise ValueError(f"a band cannot start below $0, got {lower_micros} micros")
    if upper_micros is None:
        return f"above {_bound(lower_micros)}"
    _require_int("upper_micros", upper_micros)
    if upper_micros <= lower_micros:
        raise ValueError(f"a band must end after it starts: {lower_micros} to {upper_micros}")
    return f"{_bound(lower_micros)} {EN_DASH} {_bound(upper_micros)}"
