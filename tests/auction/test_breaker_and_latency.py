"""Circuit breaker states and adaptive per-bidder deadlines."""

from __future__ import annotations

from apex_mediation.auction.breaker import Breaker, Breakers, State
from apex_mediation.auction.latency import LatencyTracker, bidder_deadline_ms


def test_opens_after_consecutive_failures_and_probes_once_when_half_open() -> None:
    breaker = Breaker(failure_threshold=3, cooldown_s=10)
    for _ in range(2):
        breaker.record(False, now=0)
    assert breaker.state is State.CLOSED and breaker.allow(now=0)
    breaker.record(False, now=1)
    assert breaker.state is State.OPEN
    assert not breaker.allow(now=5)
    assert breaker.allow(now=11)  # cooldown over: one probe
    assert breaker.state is State.HALF_OPEN
    assert not breaker.allow(now=11.1)  # only one probe at a time
    breaker.record(False, now=12)  # the probe failed: open again
    assert breaker.state is State.OPEN and not breaker.allow(now=13)
    assert breaker.allow(now=23)
    breaker.record(True, now=23)
    assert breaker.state is State.CLOSED and breaker.failures == 0


def test_a_success_resets_the_count() -> None:
    breaker = Breaker(failure_threshold=2)
    breaker.record(False, now=0)
    breaker.record(True, now=0)
    breaker.record(False, now=0)
    assert breaker.state is State.CLOSED


def test_breakers_are_per_key() -> None:
    breakers = Breakers(failure_threshold=1)
    breakers.get("a").record(False, now=0)
    assert breakers.states() == {"a": State.OPEN}
    assert breakers.get("b").allow(now=0)


def test_adaptive_cap_follows_observed_p95() -> None:
    tracker = LatencyTracker(margin=1.5, min_cap_ms=20)
    for _ in range(19):
        tracker.observe("x", 40)
    assert tracker.cap_ms("x") is None  # not enough history yet
    tracker.observe("x", 40)
    assert tracker.cap_ms("x") == 60
    for _ in range(200):
        tracker.observe("fast", 2)
    assert tracker.cap_ms("fast") == 20  # never below the minimum


def test_deadline_is_time_left_minus_buffer_capped_adaptively() -> None:
    assert bidder_deadline_ms(100, 10, None) == 90
    assert bidder_deadline_ms(100, 10, 60) == 60
    assert bidder_deadline_ms(50, 10, 60) == 40
