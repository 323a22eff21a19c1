"""Injectable clocks: real time for production, a simulated one for tests and the course."""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from . import validation

# 2025-11-17T10:00:00Z, the date of the seed's examples; the synthetic data set starts here.
COURSE_EPOCH_MS = 1_763_373_600_000


class Clock(Protocol):
    """Anything that tells the time in integer milliseconds since the Unix epoch."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The machine's wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return "SystemClock()"


class SimulatedClock:
    """A clock that moves only when told to, so runs are repeatable and fast."""

    def __init__(self, start_ms: int = COURSE_EPOCH_MS):
        self._now = int(validation.finite_number(start_ms, "start_ms"))
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: float) -> int:
        """Move forward by `ms` milliseconds (a finite number >= 0) and return the new time."""
        ms = validation.finite_number(ms, "milliseconds to advance by", minimum=0)
        with self._lock:
            self._now += int(ms)
            return self._now

    def advance_to(self, when_ms: int) -> int:
        """Move forward to `when_ms`, a finite number (an earlier time leaves the clock where it is)."""
        when_ms = validation.finite_number(when_ms, "when_ms")
        with self._lock:
            self._now = max(self._now, int(when_ms))
            return self._now

    def __repr__(self) -> str:
        return f"SimulatedClock(now_ms={self._now})"


def wait_until(condition: Callable[[], object], timeout_s: float, poll_s: float = 0.02) -> bool:
    """Poll `condition` in real time until it holds (True) or `timeout_s` seconds pass (False).

    For what runs outside the simulated clock: processes starting and stopping, replicas catching
    up, a worker draining its queue. The condition is asked once more after the last sleep.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True
