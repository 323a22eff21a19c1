"""What every stampede strategy shares: the JSON entry, the result record, the base class.

An entry is one Redis string holding JSON, never pickle:

    {"v": 1, "value": <any JSON>, "exp": <expiry ms on the injected clock>, "delta": <ms the load took>}

The client decides expiry from "exp" and its own clock, so a SimulatedClock test runs instantly.
Redis' PX is longer (expiry + `stale_ms`): it only reclaims memory, and until then an
expired entry can still be served as stale by a strategy that chooses to.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import redis

from ..clock import Clock, SimulatedClock, SystemClock
from ..errors import InvalidInput
from ..keys import KeySchema

ENTRY_VERSION = 1
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
OUTCOMES = ("hit", "loaded", "early", "waited", "stale", "nothing")  # nothing: the seed's waiter got nil


@dataclass(frozen=True)
class Entry:
    """A cached value with its expiry and the measured duration of the load that made it."""

    value: Any
    expires_ms: int
    delta_ms: int

    def fresh(self, now_ms: int) -> bool:
        return now_ms < self.expires_ms

    def encode(self) -> str:
        return json.dumps({"v": ENTRY_VERSION, "value": self.value, "exp": self.expires_ms,
                           "delta": self.delta_ms}, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def decode(raw: str | None) -> "Entry | None":
        """The entry, or None for a missing or unreadable value (both read as a miss)."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            if data["v"] != ENTRY_VERSION:
                return None
            return Entry(data["value"], int(data["exp"]), int(data["delta"]))
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            return None


@dataclass(frozen=True)
class Read:
    """What one get() did: outcome is hit, loaded, early (XFetch's early recompute), waited or stale.

    `waited_ms` is the time spent waiting for another reader's load (lock strategy only).
    """

    value: Any
    outcome: str
    waited_ms: int = 0

    @property
    def loaded(self) -> bool:
        """Whether this reader called load() (the database query)."""
        return self.outcome in ("loaded", "early")

    @property
    def stale(self) -> bool:
        return self.outcome == "stale"


Loader = Callable[[], Any]


def default_sleep(clock: Clock) -> Callable[[float], None]:
    """Waiting on a SimulatedClock moves it; on a real clock it sleeps."""
    if isinstance(clock, SimulatedClock):
        return clock.advance
    return lambda ms: time.sleep(ms / 1000)


class Strategy:
    """Cache-aside read of one hot value: `get(name, load)` returns a Read.

    `load()` stands in for the database query. `ttl_ms` is the logical lifetime, `stale_ms`
    how much longer Redis keeps an expired entry (default: one more ttl). Time comes from
    `clock`, randomness from `random.Random(seed)` (one Strategy per reader thread).
    """

    name = ""

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *, ttl_ms: int,
                 clock: Clock | None = None, seed: int = 0, stale_ms: int | None = None,
                 sleep: Callable[[float], None] | None = None):
        if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
            raise InvalidInput("ttl_ms must be a positive integer")
        if stale_ms is not None and (isinstance(stale_ms, bool) or not isinstance(stale_ms, int) or stale_ms < 0):
            raise InvalidInput("stale_ms must be a non-negative integer")
        self.redis = client
        self.keys = keys if keys is not None else KeySchema()
        self.ttl_ms = ttl_ms
        self.stale_ms = ttl_ms if stale_ms is None else stale_ms
        self.clock = clock if clock is not None else SystemClock()
        self.rng = random.Random(seed)
        self.sleep = sleep if sleep is not None else default_sleep(self.clock)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ttl={self.ttl_ms}ms>"

    def get(self, name: str, load: Loader) -> Read:
        raise NotImplementedError

    def now(self) -> int:
        return self.clock.now_ms()

    def key(self, name: str) -> str:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise InvalidInput("a hot value's name is 1-128 characters from A-Z a-z 0-9 _ . : -")
        return self.keys.hot(name)

    def fetch(self, name: str) -> Entry | None:
        """One round trip: the stored entry, fresh or not, or None."""
        return Entry.decode(self.redis.get(self.key(name)))

    def lifetime_ms(self) -> int:
        """How long a new entry stays fresh (jitter overrides this)."""
        return self.ttl_ms

    def store(self, name: str, value: Any, delta_ms: int) -> Entry:
        """Write value with its expiry and load duration; Redis keeps it stale_ms longer."""
        lifetime = self.lifetime_ms()
        entry = Entry(value, self.now() + lifetime, max(0, int(delta_ms)))
        self.redis.set(self.key(name), entry.encode(), px=lifetime + self.stale_ms)
        return entry

    def load_and_store(self, name: str, load: Loader, outcome: str = "loaded", waited_ms: int = 0) -> Read:
        """Call load() (the database query), time it on the clock, store the result."""
        started = self.now()
        value = load()
        self.store(name, value, self.now() - started)
        return Read(value, outcome, waited_ms)
