"""The platform fee: marginal rates over bands of a month's mediated revenue.

Each band's rate applies only to the revenue inside that band (as income-tax brackets do), so the
fee is continuous and never jumps at a boundary: $1 more revenue costs at most the top rate of
$1 more fee. All arithmetic is integer micros; a band's fee is floored to the micro, which keeps
the fee monotone (each band's part is non-decreasing in revenue, and so is their sum).
"""

from __future__ import annotations

from dataclasses import dataclass

MICROS_PER_DOLLAR = 1_000_000
MICROS_PER_CENT = 10_000
PPM = 1_000_000


class FeeConfigError(ValueError):
    """The configured bands cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class Band:
    name: str
    lower_micros: int
    upper_micros: int | None  # None: no upper bound (the last band)
    rate_ppm: int


@dataclass(frozen=True)
class BandFee:
    band: Band
    revenue_micros: int  # the part of the revenue inside this band
    fee_micros: int


@dataclass(frozen=True)
class Schedule:
    """Bands in order, contiguous from $0, the last unbounded."""

    bands: tuple[Band, ...]

    def with_top_rate(self, rate_ppm: int | None) -> Schedule:
        """The same bands with the last one at a contracted rate (Enterprise contracts)."""
        if rate_ppm is None:
            return self
        _check_rate("the contracted rate", rate_ppm)
        last = self.bands[-1]
        top = Band(last.name, last.lower_micros, None, rate_ppm)
        return Schedule((*self.bands[:-1], top))

    def split(self, revenue_micros: int) -> tuple[BandFee, ...]:
        """The revenue cut into the bands, with each band's fee."""
        if revenue_micros < 0:
            raise ValueError("revenue must not be negative")
        parts = []
        for band in self.bands:
            top = revenue_micros if band.upper_micros is None else band.upper_micros
            inside = max(0, min(revenue_micros, top) - band.lower_micros)
            parts.append(BandFee(band, inside, inside * band.rate_ppm // PPM))
        return tuple(parts)

    def fee_micros(self, revenue_micros: int) -> int:
        return sum(part.fee_micros for part in self.split(revenue_micros))


def _check_rate(what: str, rate_ppm: int) -> None:
    if not 0 <= rate_ppm <= PPM:
        raise FeeConfigError(f"{what} must be between 0 and {PPM} ppm, got {rate_ppm}")


def parse_bands(text: str) -> Schedule:
    """Parse `APEX_FEE_BANDS`: `name=upper_usd:rate_ppm,…`, the last with an empty upper bound,
    e.g. `starter=10000:0,growth=100000:25000,scale=500000:20000,enterprise=:15000`."""
    bands: list[Band] = []
    lower = 0
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise FeeConfigError("APEX_FEE_BANDS has no bands")
    for index, item in enumerate(items):
        name, sep, rest = item.partition("=")
        upper_text, sep2, rate_text = rest.partition(":")
        if not sep or not sep2 or not name.strip():
            raise FeeConfigError(f"APEX_FEE_BANDS: {item!r} is not name=upper_usd:rate_ppm")
        try:
            rate = int(rate_text)
            upper = int(upper_text) * MICROS_PER_DOLLAR if upper_text.strip() else None
        except ValueError as exc:
            raise FeeConfigError(f"APEX_FEE_BANDS: {item!r} has a non-integer number") from exc
        _check_rate(f"APEX_FEE_BANDS: band {name.strip()!r}", rate)
        last = index == len(items) - 1
        if last != (upper is None):
            raise FeeConfigError("APEX_FEE_BANDS: only the last band has no upper bound")
        if upper is not None and upper <= lower:
            raise FeeConfigError(f"APEX_FEE_BANDS: band {name.strip()!r} ends before it starts")
        bands.append(Band(name.strip(), lower, upper, rate))
        lower = upper or lower
    return Schedule(tuple(bands))


def cents_of_lines(fees_micros: list[int]) -> list[int]:
    """Each line's fee in cents such that the lines add up to the total fee rounded half-up to
    the cent (largest remainder: the cents lost to flooring go to the lines that lost most)."""
    total = (sum(fees_micros) + MICROS_PER_CENT // 2) // MICROS_PER_CENT
    cents = [fee // MICROS_PER_CENT for fee in fees_micros]
    missing = total - sum(cents)
    order = sorted(range(len(fees_micros)), key=lambda i: (-(fees_micros[i] % MICROS_PER_CENT), i))
    for i in order[:missing]:
        cents[i] += 1
    return cents
