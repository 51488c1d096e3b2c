"""A circuit breaker per network account: a failing bidder stops costing every auction time.

Closed: calls go through; `failure_threshold` consecutive failures (errors or timeouts) open it.
Open: calls are skipped (outcome circuit_open) until `cooldown_s` has passed. Half-open: exactly
one probe call goes through; its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    failure_threshold: int = 5
    cooldown_s: float = 10.0
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN and now - self.opened_at >= self.cooldown_s:
            self.state = State.HALF_OPEN
            self.probing = False
        if self.state is State.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def record(self, ok: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if ok:
            self.state, self.failures, self.probing = State.CLOSED, 0, False
            return
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.probing = State.OPEN, now, False


@dataclass(eq=False)  # identity: the metrics collector holds each one in a weak set
class Breakers:
    """One breaker per key (network account id, or network name for unkeyed lines)."""

    failure_threshold: int = 5
    cooldown_s: float = 10.0
    _by_key: dict[str, Breaker] = field(default_factory=dict)
    _network: dict[str, str] = field(default_factory=dict)  # key -> the network it belongs to

    def configure(self, failure_threshold: int, cooldown_s: float) -> None:
        """New limits (run-time tuning) for every breaker, existing ones included."""
        self.failure_threshold, self.cooldown_s = failure_threshold, cooldown_s
        for breaker in self._by_key.values():
            breaker.failure_threshold, breaker.cooldown_s = failure_threshold, cooldown_s

    def get(self, key: str, network: str | None = None) -> Breaker:
        breaker = self._by_key.get(key)
        if breaker is None:
            breaker = Breaker(self.failure_threshold, self.cooldown_s)
            self._by_key[key] = breaker
            self._network[key] = network or key
        return breaker

    def not_closed_by_network(self) -> dict[str, int]:
        """Circuits open or half-open, counted per network (the circuit-state gauge)."""
        counts: dict[str, int] = {}
        for key, breaker in self._by_key.items():
            network = self._network.get(key, key)
            counts[network] = counts.get(network, 0) + (breaker.state is not State.CLOSED)
        return counts

    def items(self) -> list[tuple[str, Breaker]]:
        return list(self._by_key.items())

    def states(self) -> dict[str, State]:
        return {key: breaker.state for key, breaker in self._by_key.items()}
