"""Currency conversion to USD before floors and ranking.

Rates are USD per one unit of each currency, as exact decimals. The table ships with the package
(`currency_rates.json`, with its source and date) and can be replaced at run time from a file
(`APEX_CURRENCY_RATES_FILE`), reloaded when the file changes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

BUNDLED = Path(__file__).with_name("currency_rates.json")
MICROS = Decimal(1_000_000)


class UnknownCurrency(ValueError):
    pass


@dataclass(frozen=True)
class RateTable:
    usd_per_unit: dict[str, Decimal]
    as_of: str
    source: str

    def to_usd_micros(self, price: str, currency: str) -> int:
        """A bidder's CPM (decimal string, in `currency`) as integer USD micros."""
        rate = self.usd_per_unit.get(currency.upper())
        if rate is None:
            raise UnknownCurrency(f"no rate for currency {currency!r}")
        try:
            value = Decimal(price)
        except InvalidOperation as exc:
            raise ValueError(f"price {price!r} is not a number") from exc
        if not value.is_finite():
            raise ValueError(f"price {price!r} is not finite")
        return int((value * rate * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def parse_table(text: str) -> RateTable:
    doc = json.loads(text)
    rates = {code.upper(): Decimal(str(rate)) for code, rate in doc["usd_per_unit"].items()}
    rates["USD"] = Decimal(1)
    for code, rate in rates.items():
        if len(code) != 3 or not code.isalpha() or rate <= 0:
            raise ValueError(f"bad rate for {code!r}: {rate}")
    return RateTable(usd_per_unit=rates, as_of=str(doc["as_of"]), source=str(doc["source"]))


class Rates:
    """The current table; `refresh()` reloads the override file when its mtime changed and keeps
    the last good table if the file is unreadable."""

    def __init__(self, override: Path | None = None) -> None:
        self.override = override
        self._mtime: float | None = None
        self.table = parse_table(BUNDLED.read_text())
        self.refresh()

    def refresh(self) -> bool:
        if self.override is None:
            return False
        try:
            mtime = os.stat(self.override).st_mtime
            if mtime == self._mtime:
                return False
            self.table = parse_table(self.override.read_text())
            self._mtime = mtime
            return True
        except (OSError, ValueError, KeyError):
            return False
