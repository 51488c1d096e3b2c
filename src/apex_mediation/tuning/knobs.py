"""The knobs that may change at run time, each with its default and its bounds. Nothing outside
this list can be tuned, and no value outside its bounds is ever stored — whoever asks (an
operator, or the self-evolving system with the operator's permission)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Knob:
    key: str
    default: int
    minimum: int
    maximum: int
    unit: str
    meaning: str

    def check(self, value: int) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(
                f"{self.key} must be between {self.minimum} and {self.maximum} {self.unit}"
            )


LATENCY_MARGIN = Knob(
    "auction.latency_margin_pct",
    150,
    110,
    300,
    "%",
    "a bidder's adaptive deadline as a share of its observed p95 answer time",
)
BREAKER_THRESHOLD = Knob(
    "breaker.failure_threshold",
    5,
    2,
    20,
    "failures",
    "consecutive failures (errors or timeouts) that open a bidder's circuit",
)
BREAKER_COOLDOWN = Knob(
    "breaker.cooldown_s", 10, 2, 120, "s", "how long an open circuit skips its bidder"
)
CREATIVE_TTL = Knob(
    "cache.creative_ttl_s",
    300,
    120,
    3600,
    "s",
    "how long a winning creative and its click URL stay in the cache for the SDK to load",
)

KNOBS: dict[str, Knob] = {
    k.key: k for k in (LATENCY_MARGIN, BREAKER_THRESHOLD, BREAKER_COOLDOWN, CREATIVE_TTL)
}

# Not a knob: the operator's permission for the self-evolving system to apply its tuning
# proposals without a decision (1) or only after one (0, the default). Stored with the knobs.
AUTO_TUNE = "evolve.auto_tune"


def defaults() -> dict[str, int]:
    return {k.key: k.default for k in KNOBS.values()}
