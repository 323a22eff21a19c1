"""A circuit breaker on an injected clock, and the contract every breaker (the library's, a learner's) passes."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from ..clock import Clock, SimulatedClock

log = logging.getLogger("whatsapp_cache")
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class CircuitBreaker:
    """Closed, open or half-open, on an injected clock; `transitions` records every change."""

    clock: Clock
    failure_threshold: int = 3
    reset_after_ms: int = 5_000
    state: str = CLOSED
    failures: int = 0
    opened_ms: int = 0
    probing: bool = False
    transitions: list[tuple[int, str]] = field(default_factory=list)
    name: str = ""  # the node it guards, on a cluster with a breaker per node
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def permit(self) -> str:
        """CLOSED (call), HALF_OPEN (call as the one probe) or OPEN (do not call)."""
        if self.state == CLOSED:  # every call in normal operation: no lock needed to read one attribute
            return CLOSED
        with self._lock:
            if self.state == OPEN and self.clock.now_ms() - self.opened_ms >= self.reset_after_ms:
                self._move(HALF_OPEN)
            if self.state == HALF_OPEN:
                if self.probing:
                    return OPEN
                self.probing = True
            return self.state

    def success(self) -> None:
        if self.state == CLOSED and not self.failures and not self.probing:
            return  # nothing to reset
        with self._lock:
            self.failures = 0
            self.probing = False
            if self.state != CLOSED:
                self._move(CLOSED)

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            self.probing = False
            if self.state == HALF_OPEN or (self.state == CLOSED and self.failures >= self.failure_threshold):
                self.opened_ms = self.clock.now_ms()
                self._move(OPEN)

    def _move(self, state: str) -> None:
        # Operators hear when the cache goes away and when it is back; each probe only at debug level.
        node = f" for {self.name}" if self.name else ""
        if state == OPEN and self.state == CLOSED:
            log.warning("cache circuit%s open after %d failed Redis calls in a row; requests use the database",
                        node, self.failures)
        elif state == CLOSED:
            log.warning("cache circuit%s closed: Redis answers again", node)
        else:
            log.debug("cache circuit %s", state)
        self.state = state
        self.transitions.append((self.clock.now_ms(), state))


class BreakerScenario(NamedTuple):
    """One scenario: a breaker built with these settings, then the steps in order."""

    describe: str
    failure_threshold: int
    reset_after_ms: int
    steps: tuple[tuple, ...]


_F, _S, _P = ("failure",), ("success",), "permit"


BREAKER_CONTRACT = (
    BreakerScenario("a new breaker is closed", 3, 5_000, ((_P, CLOSED),)),
    BreakerScenario("stays closed below the threshold", 3, 5_000, (_F, _F, (_P, CLOSED))),
    BreakerScenario("opens after failure_threshold failures in a row", 3, 5_000, (_F, _F, _F, (_P, OPEN))),
    BreakerScenario("a success resets the count of failures in a row", 2, 5_000,
                    (_F, _S, _F, _S, _F, (_P, CLOSED), _F, (_P, OPEN))),
    BreakerScenario("stays open for the whole pause (on the injected clock)", 1, 5_000,
                    (_F, ("advance", 4_999), (_P, OPEN))),
    BreakerScenario("after the pause lets exactly one probe through", 1, 5_000,
                    (_F, ("advance", 5_000), (_P, HALF_OPEN), (_P, OPEN))),
    BreakerScenario("a successful probe closes the circuit", 1, 5_000,
                    (_F, ("advance", 5_000), (_P, HALF_OPEN), _S, (_P, CLOSED), (_P, CLOSED))),
    BreakerScenario("a failed probe opens it for another full pause", 1, 5_000,
                    (_F, ("advance", 5_000), (_P, HALF_OPEN), _F, ("advance", 4_999), (_P, OPEN),
                     ("advance", 1), (_P, HALF_OPEN))),
    BreakerScenario("other settings: 5 failures to open, a 1 s pause", 5, 1_000,
                    (_F, _F, _F, _F, (_P, CLOSED), _F, (_P, OPEN), ("advance", 999), (_P, OPEN),
                     ("advance", 1), (_P, HALF_OPEN), _S, (_P, CLOSED))),
)


def replay_breaker(scenario: BreakerScenario, make: Callable) -> tuple[str, object, str] | None:
    """Replay `scenario` on `make(clock, failure_threshold=, reset_after_ms=)`, on a simulated clock.

    None if every permit() answered as expected, else (the calls so far, what permit() returned,
    what it should have returned): the first difference, in words.
    """
    clock = SimulatedClock()
    breaker = make(clock, failure_threshold=scenario.failure_threshold, reset_after_ms=scenario.reset_after_ms)
    done = [f"{getattr(make, '__name__', 'breaker')}(clock, failure_threshold={scenario.failure_threshold}, "
            f"reset_after_ms={scenario.reset_after_ms})"]
    for step in scenario.steps:
        if step[0] == "advance":
            clock.advance(step[1])
            done.append(f"clock +{step[1]:,} ms")
        elif step[0] == "permit":
            got = breaker.permit()
            done.append("permit()")
            if got != step[1]:
                return ", ".join(done), got, repr(step[1])
        else:
            getattr(breaker, step[0])()
            done.append(f"{step[0]}()")
    return None
