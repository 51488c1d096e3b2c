"""Engagement (0 to 100) and the probability of converting (parts per million), each from real
signals with fixed, documented weights, so a score can be explained line by line."""

from __future__ import annotations

from dataclasses import dataclass

from apex_mediation.sales.signals import Signals


@dataclass(frozen=True)
class Engagement:
    score: int  # 0..100
    parts: dict[str, int]  # each component's points, for the operator page


def _capped(value: int, full_at: int, points: int) -> int:
    return min(value, full_at) * points // full_at


def engagement(signals: Signals) -> Engagement:
    """25 points each: console logins (5 in a week is full), integration (2 placements and
    2 networks), traffic (requests on 7 of 7 days) and volume (10,000 impressions a week)."""
    parts = {
        "console": _capped(signals.logins_7d, 5, 25),
        "integration": _capped(signals.placements, 2, 12) + _capped(signals.networks, 2, 13),
        "traffic_days": _capped(signals.active_days_7d, 7, 25),
        "volume": _capped(signals.impressions_7d, 10_000, 25),
    }
    return Engagement(sum(parts.values()), parts)


# Engagement bands to conversion probability: a step table rather than a fitted curve, until
# there are enough conversions on this platform to fit one.
_PROBABILITY = ((80, 700_000), (60, 450_000), (40, 250_000), (20, 100_000), (0, 20_000))


def conversion_probability_ppm(score: int, activated: bool) -> int:
    probability = next(ppm for floor, ppm in _PROBABILITY if score >= floor)
    return probability if activated else min(probability, 50_000)
