"""A verdict: the score in [0, 1] and the reasons that produced it, and what a publisher's
thresholds make of it (block an auction, flag an event).

Scores are kept in millionths (integers) so that they compare exactly and store compactly;
reasons travel as a bit set in the beacon token (ivt/reasons.py fixes each reason's bit).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from apex_mediation.ivt.reasons import BITS, REASONS

PPM = 1_000_000
# Safe defaults: GIVT (weight 1.0) and strong SIVT (0.9) block an auction; any single moderate
# signal (0.5 and up) only flags, so one traveller's timezone never costs a publisher an ad.
DEFAULT_BLOCK_PPM = 900_000
DEFAULT_FLAG_PPM = 500_000


@dataclass(frozen=True)
class Thresholds:
    block_ppm: int = DEFAULT_BLOCK_PPM  # auctions at or above: no bidder is called
    flag_ppm: int = DEFAULT_FLAG_PPM  # requests and events at or above: invalid, not counted


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Verdict:
    score_ppm: int = 0
    reasons: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return self.score_ppm / PPM

    @property
    def bits(self) -> int:
        return reasons_to_bits(self.reasons)

    def invalid(self, thresholds: Thresholds) -> bool:
        return self.score_ppm > 0 and self.score_ppm >= thresholds.flag_ppm

    def blocked(self, thresholds: Thresholds) -> bool:
        return self.score_ppm > 0 and self.score_ppm >= thresholds.block_ppm


CLEAN = Verdict()


def combine(reasons: Collection[str], weights: Mapping[str, int]) -> Verdict:
    """Independent evidence: score = 1 - prod(1 - weight), over distinct enabled reasons.
    `weights` maps a reason to its weight in millionths; a reason missing from it is disabled."""
    if not reasons:  # nearly every request and event: nothing to weigh
        return CLEAN
    found = tuple(dict.fromkeys(r for r in reasons if weights.get(r, 0) > 0))
    if not found:
        return CLEAN
    clean = 1.0
    for reason in found:
        clean *= 1 - weights[reason] / PPM
    return Verdict(min(PPM, round((1 - clean) * PPM)), found)


def merge(first: Verdict, second: Verdict, weights: Mapping[str, int]) -> Verdict:
    if not first.reasons:
        return second
    if not second.reasons:
        return first
    return combine((*first.reasons, *second.reasons), weights)


def reasons_to_bits(reasons: Iterable[str]) -> int:
    bits = 0
    for reason in reasons:
        bits |= 1 << BITS[reason]
    return bits


def bits_to_reasons(bits: int) -> tuple[str, ...]:
    if not bits:  # nearly every token
        return ()
    return tuple(name for name in REASONS if bits >> BITS[name] & 1)


@dataclass(frozen=True)
class Decision:
    """A verdict under a publisher's thresholds: invalid (not counted) and blocked (no bidder)."""

    verdict: Verdict = CLEAN
    invalid: bool = False
    blocked: bool = False

    @property
    def reason_text(self) -> str:
        return ", ".join(self.verdict.reasons)


ALLOWED = Decision()


def decide(verdict: Verdict, thresholds: Thresholds) -> Decision:
    if not verdict.reasons:
        return ALLOWED
    return Decision(verdict, verdict.invalid(thresholds), verdict.blocked(thresholds))
