"""Conversion to USD micros with exact decimals; a refreshable table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from apex_mediation.auction.currency import Rates, UnknownCurrency


def test_bundled_table_converts_exactly() -> None:
    table = Rates().table
    assert table.to_usd_micros("2.5", "USD") == 2_500_000
    assert table.to_usd_micros("2", "EUR") == 2_110_000  # 2 x 1.0550
    assert table.to_usd_micros("100", "JPY") == 648_000
    assert table.to_usd_micros("0.0000001", "USD") == 0
    assert table.source and table.as_of


@pytest.mark.parametrize(("price", "currency"), [("1", "XXX"), ("abc", "USD"), ("NaN", "USD")])
def test_bad_prices_and_currencies_are_errors(price: str, currency: str) -> None:
    with pytest.raises((UnknownCurrency, ValueError)):
        Rates().table.to_usd_micros(price, currency)


def test_override_file_is_reloaded_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "rates.json"
    path.write_text(
        json.dumps({"source": "test", "as_of": "2026-01-01", "usd_per_unit": {"EUR": "2"}})
    )
    rates = Rates(path)
    assert rates.table.to_usd_micros("1", "EUR") == 2_000_000
    assert rates.refresh() is False  # unchanged
    path.write_text(
        json.dumps({"source": "test", "as_of": "2026-01-02", "usd_per_unit": {"EUR": "3"}})
    )
    os.utime(path, (1, 2_000_000_000))
    assert rates.refresh() is True
    assert rates.table.to_usd_micros("1", "EUR") == 3_000_000
    path.write_text("not json")
    os.utime(path, (1, 2_000_000_100))
    assert rates.refresh() is False  # a broken file keeps the last good table
    assert rates.table.to_usd_micros("1", "EUR") == 3_000_000
