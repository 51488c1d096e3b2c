"""Tuning proposals from the hourly snapshot, and how each is judged afterwards.

Three rules, each for one allow-listed knob and each measured by the figure it means to move:
- bidders time out often (10 % or more of their calls) while mostly answering: their adaptive
  deadlines (p95 times a margin) are too tight — raise the margin by 50 points;
- a bidder fails (errors and timeouts) on half of its calls or more: let its circuit open after
  fewer consecutive failures, so auctions stop waiting for it sooner;
- SDKs find 2 % or more of creatives expired when they load them: double the cache's TTL.

A change is kept when its figure falls by at least a quarter over the next snapshot with
enough traffic; otherwise it is rolled back. Values never leave their knob's bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apex_mediation.db.models import SystemSnapshot
from apex_mediation.tuning.knobs import BREAKER_THRESHOLD, CREATIVE_TTL, LATENCY_MARGIN

MIN_CALLS = 50  # a bidder's calls in an hour below which its rates say nothing
MIN_LOOKUPS = 50
TIMEOUT_PPM = 100_000
FAILING_PPM = 500_000
EXPIRED_PPM = 20_000
MARGIN_STEP = 50
THRESHOLD_STEP = 2

# Metric names, as stored in a record's evidence, with what they measure.
BIDDER_TIMEOUTS = "bidder_timeout_ppm"
BIDDER_FAILURES = "bidder_failed_call_ppm"
CREATIVES_EXPIRED = "creative_expired_ppm"


@dataclass(frozen=True)
class TuningProposal:
    key: str
    current: int
    proposed: int
    metric: str
    networks: tuple[str, ...]
    measured_ppm: int
    sample: int
    expected_effect: str

    @property
    def target(self) -> str:
        return f"{self.key}={self.proposed}"

    def evidence(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "networks": list(self.networks),
            "measured_ppm": self.measured_ppm,
            "sample": self.sample,
        }


def _pct(ppm: int) -> str:
    return f"{ppm // 10_000}.{ppm // 1_000 % 10} %"


def measure(metric: str, snapshot: SystemSnapshot, networks: list[str]) -> tuple[int, int] | None:
    """(ppm, sample) of `metric` in one snapshot, or None when the sample is too small."""
    if metric == CREATIVES_EXPIRED:
        lookups = int(snapshot.caches.get("creative_lookups", 0))
        if lookups < MIN_LOOKUPS:
            return None
        return int(snapshot.caches.get("creative_expired_ppm", 0)), lookups
    bidders = [snapshot.bidders[n] for n in networks if n in snapshot.bidders]
    calls = sum(int(b["calls"]) for b in bidders)
    if metric == BIDDER_TIMEOUTS:
        if calls < MIN_CALLS:
            return None
        # Weighted by calls, in ppm times calls so that one bidder's rate comes back exactly.
        timeouts = sum(int(b["calls"]) * int(b["timeout_ppm"]) for b in bidders)
        return timeouts // calls, calls
    # Failed calls among every call the auctions wanted to make, skipped ones included: an
    # earlier-opening circuit turns failures into skips.
    failed = sum(int(b["calls"]) * (int(b["timeout_ppm"]) + int(b["error_ppm"])) for b in bidders)
    wanted = calls + sum(int(b.get("circuit_open", 0)) for b in bidders)
    if wanted < MIN_CALLS:
        return None
    return failed // wanted, wanted


def _bidder_rates(b: dict[str, Any]) -> tuple[int, int]:
    return int(b["timeout_ppm"]), int(b["timeout_ppm"]) + int(b["error_ppm"])


def propose(snapshot: SystemSnapshot, values: dict[str, int]) -> list[TuningProposal]:
    found: list[TuningProposal] = []
    busy = {n: b for n, b in snapshot.bidders.items() if int(b["calls"]) >= MIN_CALLS}
    slow = sorted(
        n
        for n, b in busy.items()
        if _bidder_rates(b)[0] >= TIMEOUT_PPM and _bidder_rates(b)[1] < FAILING_PPM
    )
    margin = values[LATENCY_MARGIN.key]
    if slow and margin < LATENCY_MARGIN.maximum:
        ppm, sample = measure(BIDDER_TIMEOUTS, snapshot, slow) or (0, 0)
        to = min(LATENCY_MARGIN.maximum, margin + MARGIN_STEP)
        found.append(
            TuningProposal(
                LATENCY_MARGIN.key,
                margin,
                to,
                BIDDER_TIMEOUTS,
                tuple(slow),
                ppm,
                sample,
                f"{', '.join(slow)} time out on {_pct(ppm)} of {sample:,} calls while mostly "
                f"answering: deadlines of {to} % of their p95 instead of {margin} % "
                "should cut the timeouts by at least a quarter",
            )
        )
    failing = sorted(n for n, b in busy.items() if _bidder_rates(b)[1] >= FAILING_PPM)
    threshold = values[BREAKER_THRESHOLD.key]
    if failing and threshold > BREAKER_THRESHOLD.minimum:
        measured = measure(BIDDER_FAILURES, snapshot, failing)
        if measured is not None:
            to = max(BREAKER_THRESHOLD.minimum, threshold - THRESHOLD_STEP)
            found.append(
                TuningProposal(
                    BREAKER_THRESHOLD.key,
                    threshold,
                    to,
                    BIDDER_FAILURES,
                    tuple(failing),
                    *measured,
                    f"{', '.join(failing)} fail {_pct(measured[0])} of the calls auctions "
                    f"wanted: opening the circuit after {to} consecutive failures instead of "
                    f"{threshold} should cut the failed calls by at least a quarter",
                )
            )
    ttl = values[CREATIVE_TTL.key]
    expired = measure(CREATIVES_EXPIRED, snapshot, [])
    if expired is not None and expired[0] >= EXPIRED_PPM and ttl < CREATIVE_TTL.maximum:
        to = min(CREATIVE_TTL.maximum, ttl * 2)
        found.append(
            TuningProposal(
                CREATIVE_TTL.key,
                ttl,
                to,
                CREATIVES_EXPIRED,
                (),
                *expired,
                f"{_pct(expired[0])} of {expired[1]:,} creative loads found the creative "
                f"expired: keeping it {to} s instead of {ttl} s should cut that by at least "
                "a quarter",
            )
        )
    return found


def better(before_ppm: int, after_ppm: int) -> bool:
    """Kept only when the figure fell by at least a quarter."""
    return after_ppm < before_ppm and after_ppm * 4 <= before_ppm * 3
