"""Injectable clocks: real time for production, a simulated one for tests and the course."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from .errors import InvalidInput

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
        self._now = int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: float) -> int:
        """Move forward by `ms` milliseconds and return the new time."""
        if ms < 0:
            raise InvalidInput("a clock cannot move backwards")
        with self._lock:
            self._now += int(ms)
            return self._now

    def advance_to(self, when_ms: int) -> int:
        """Move forward to `when_ms` (never backwards)."""
        with self._lock:
            self._now = max(self._now, int(when_ms))
            return self._now

    def __repr__(self) -> str:
        return f"SimulatedClock(now_ms={self._now})"
