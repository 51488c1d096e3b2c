"""AI amounts for people: integer micro-dollars shown to the cent, or finer when tiny (a single
call often costs a fraction of a cent)."""

from __future__ import annotations


def micros_to_dollars(micros: int, places: int = 2) -> str:
    """Half-up to `places` decimals (2 to 6), with thousands separators; never via floats."""
    if not 2 <= places <= 6:
        raise ValueError("places must be 2 to 6")
    unit = 10 ** (6 - places)
    sign = "-" if micros < 0 else ""
    rounded = (abs(micros) + unit // 2) // unit
    whole, fraction = divmod(rounded, 10**places)
    return f"{sign}${whole:,}.{fraction:0{places}d}"
