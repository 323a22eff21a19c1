"""The ground truth for staleness: when each version of each key reached the database.

A read is stale if it returned an older version than the database held at that moment;
its staleness window is how long ago the first newer version was committed.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field


@dataclass
class StalenessReport:
    reads: int = 0
    stale_reads: int = 0
    longest_window_ms: int = 0
    windows_ms: list[int] = field(default_factory=list, repr=False)

    @property
    def stale_share(self) -> float:
        return self.stale_reads / self.reads if self.reads else 0.0

    def stale_longer_than(self, ms: int) -> int:
        """Stale reads whose value had been outdated for more than `ms`."""
        return sum(window > ms for window in self.windows_ms)


@dataclass
class VersionLog:
    """Commits per key (version, time), and a tally of reads checked against them."""

    _commits: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    report: StalenessReport = field(default_factory=StalenessReport)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def committed(self, key: str, version: int, at_ms: int) -> None:
        """Record that `version` of `key` became the database's value at `at_ms`."""
        with self._lock:
            times, versions = self._commits.setdefault(key, ([], []))
            index = bisect.bisect_right(times, at_ms)
            times.insert(index, at_ms)
            versions.insert(index, version)

    def read(self, key: str, version_seen: int, at_ms: int) -> int:
        """Check one read; return its staleness window in ms (0 when fresh)."""
        with self._lock:
            window = self._window(key, version_seen, at_ms)
            self.report.reads += 1
            if window:
                self.report.stale_reads += 1
                self.report.windows_ms.append(window)
                self.report.longest_window_ms = max(self.report.longest_window_ms, window)
            return window

    def _window(self, key: str, seen: int, at_ms: int) -> int:
        times, versions = self._commits.get(key, ([], []))
        newer = [t for t, v in zip(times, versions) if t <= at_ms and v > seen]
        return max(1, at_ms - min(newer)) if newer else 0
