"""Stale-if-error: when Redis is away and the database refuses too, answer with the last value seen.

    read -> Redis hit or database answer -> keep a copy here (key, value, seen at)
    read -> Redis unavailable -> database -> DatabaseUnavailable (overloaded, shed, down)
         -> a copy of this key no older than max_age_ms?  yes: serve it, outcome "stale"
                                                           no:  the error reaches the caller
    first=True: while the key's circuit is open, a copy young enough answers before the database
                is asked (stale while unavailable): the database is spared those reads

During a Redis outage the copies in Redis are out of reach, so the stale copy has to live in the
application: a bounded, process-local map, least recently kept first out. It is consulted only when
both tiers failed for a read; a write never is (it must reach the database or fail), and a write by
this process forgets the key's copy, so the process never serves its own overwritten value.

Which data may be served stale, and why:
    profiles          yes: a name or status minutes old is what a cache serves anyway (TTL 24 h)
    group members     yes: a roster minutes old; the send path checks membership in the database
    recent messages   yes: a chat view without the last minutes' messages, better than an error
    sessions          never: a revoked session (logout, a stolen phone) must stop authenticating at
                      once; a stale copy would let it in. Sessions do not opt in (serve_stale False).
    presence          maybe, but not here: "online" means seen in the last 5 minutes, so a copy is
                      worth little past its own window, and the answer is per asker (a contact list)

The bound counts keys, not bytes. Measured on the small data set: a profile's copy takes about 3 KB,
a chat's recent messages (48 on average) about 28 KB, so the default 2,000 keys stay under some
60 MB even if every one is a chat; a full list of 100 messages is about twice that.

Off by default (FailurePolicy.stale_if_error_ms None): it trades correctness for availability, costs
memory in every app server, and an operator should choose the bound. Serving only on error cannot
lower the database's load: the read has already been shed or timed out. Chapter 06 measures both:
on error, most failures left were session checks shed by the overloaded database; first, the
reads answered from copies left room for them. `stats` counts what was served
and keeps the newest ages served, for the chaos report.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Hashable

from ..clock import Clock
from ..eviction.fifo import FIFOCache
from ..validation import whole_number

AGES_KEPT = 100_000  # (at, age) pairs the stats keep: the newest, as the request log does


@dataclass
class StaleStats:
    """Copies kept, stale answers served, and the refusals: no copy, or one older than the bound."""

    kept: int = 0
    served: int = 0
    missing: int = 0
    too_old: int = 0
    served_ages: deque = field(default_factory=lambda: deque(maxlen=AGES_KEPT), repr=False)  # (at_ms, age_ms)


class LastKnownGood:
    """The last value each key read returned in this process, at most `maxsize` keys (LRU)."""

    def __init__(self, clock: Clock, max_age_ms: int = 300_000, maxsize: int = 2_000, first: bool = False):
        self.clock = clock
        self.first = bool(first)
        self.max_age_ms = whole_number(max_age_ms, "max_age_ms", 1)
        self.maxsize = whole_number(maxsize, "maxsize", 1)
        self.stats = StaleStats()
        self._entries = FIFOCache(self.maxsize)  # key -> (seen at ms, value); a re-kept key is the newest
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LastKnownGood {len(self)} of {self.maxsize} keys, max age {self.max_age_ms:,} ms>"

    def keep(self, key: Hashable, value: Any) -> None:
        """Note `value` as `key`'s newest known good answer; the least recently kept key goes past maxsize."""
        with self._lock:
            self._entries[key] = (self.clock.now_ms(), value)
            self.stats.kept += 1

    def serve(self, key: Hashable, count_missing: bool = True) -> tuple[Any, int] | None:
        """(value, age in ms) if a copy no older than max_age_ms exists, counted as served; else None."""
        now = self.clock.now_ms()
        with self._lock:
            seen, value = self._entries.get(key, (None, None))
            if seen is None:
                self.stats.missing += count_missing
                return None
            age = now - seen
            if age > self.max_age_ms:
                del self._entries[key]
                self.stats.too_old += 1
                return None
            self.stats.served += 1
            self.stats.served_ages.append((now, age))
            return value, age

    def forget(self, key: Hashable) -> None:
        """A write changed `key`: its copy must not be served."""
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def check_policy(max_age_ms, entries) -> None:
    """FailurePolicy's stale-if-error settings: a bound in ms (or None: off) and a size >= 1."""
    if max_age_ms is not None:
        whole_number(max_age_ms, "stale_if_error_ms", 1)
    whole_number(entries, "stale_entries", 1)
