"""Per-bidder adaptive timeouts from observed latency.

A bidder that usually answers in 40 ms should not hold an auction open for 300 ms: once enough
answers are seen, its deadline is capped at its observed p95 times a margin (never below a
minimum). Deadlines still never exceed the time left in the auction.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW = 200
MIN_SAMPLES = 20
RECOMPUTE_EVERY = 10


@dataclass
class LatencyTracker:
    margin: float = 1.5
    min_cap_ms: float = 20.0
    _samples: dict[str, deque[float]] = field(default_factory=dict)
    _observed: dict[str, int] = field(default_factory=dict)  # answers seen, ever
    _cap_cache: dict[str, tuple[int, float]] = field(default_factory=dict)

    def set_margin(self, margin: float) -> None:
        """A new margin (run-time tuning); every cap is recomputed at its next use."""
        self.margin = margin
        self._cap_cache.clear()

    def observe(self, key: str, latency_ms: float) -> None:
        samples = self._samples.get(key)
        if samples is None:
            samples = self._samples[key] = deque(maxlen=WINDOW)
        samples.append(latency_ms)
        self._observed[key] = self._observed.get(key, 0) + 1

    def summary(self, key: str) -> tuple[int, float | None, float | None]:
        """(answers seen, p50, p95) over the recent window, for the operator's health page."""
        samples = sorted(self._samples.get(key, ()))
        if not samples:
            return self._observed.get(key, 0), None, None
        p50 = samples[len(samples) // 2]
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        return self._observed.get(key, 0), p50, p95

    def cap_ms(self, key: str) -> float | None:
        """The adaptive cap for this bidder, or None until it has enough history."""
        samples = self._samples.get(key)
        if samples is None or len(samples) < MIN_SAMPLES:
            return None
        # Sorting the window on every call was a measurable share of the auction's CPU: the
        # percentile is recomputed once per RECOMPUTE_EVERY new answers instead.
        observed = self._observed.get(key, 0)
        cached = self._cap_cache.get(key)
        if cached is not None and observed - cached[0] < RECOMPUTE_EVERY:
            return cached[1]
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        cap = max(self.min_cap_ms, p95 * self.margin)
        self._cap_cache[key] = (observed, cap)
        return cap


def bidder_deadline_ms(
    time_left_ms: float, buffer_ms: float, adaptive_cap_ms: float | None
) -> float:
    """Time a bidder gets: what is left minus the exchange's buffer, capped adaptively."""
    budget = time_left_ms - buffer_ms
    return min(budget, adaptive_cap_ms) if adaptive_cap_ms is not None else budget
