"""Simulated latencies, so a laptop run can speak in the seed's production numbers.

A database with a capacity (DatabaseCapacity) can saturate; without one (the default) it answers
every query in 50-100 ms however many arrive, which is how the seed's Q2 ("slower but functional")
holds by construction.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from .errors import InvalidInput

# The seed's fleet: 70 database servers at 10,000 queries/s each, and its "300,000 requests/sec" that
# still reach the database with the cache working. Its database runs at 3/7 of capacity when the cache
# is up, so the capacity is 7/3 (2.33) times the load it carries then.
SEED_DB_SERVERS = 70
SEED_DB_QUERIES_PER_SERVER = 10_000
SEED_DB_LOAD_WITH_CACHE = 300_000
SEED_HEADROOM = SEED_DB_SERVERS * SEED_DB_QUERIES_PER_SERVER / SEED_DB_LOAD_WITH_CACHE


class DatabaseUnavailable(RuntimeError):
    """The simulated database did not answer a query; `waited_ms` is what the caller spent finding out."""

    def __init__(self, message: str, waited_ms: float):
        super().__init__(message)
        self.waited_ms = waited_ms


class DatabaseOverloaded(DatabaseUnavailable):
    """Past its capacity the database cannot serve every query: this one timed out in the queue."""


class LoadShed(DatabaseUnavailable):
    """The application refused a read at once to keep the database below its shedding threshold."""


def seed_capacity(healthy_queries_per_s: float) -> float:
    """A database capacity in the seed's proportions: SEED_HEADROOM (7/3) times the load it carries
    while the cache works (the seed: 700,000 queries/s of fleet for 300,000 requests/s)."""
    if isinstance(healthy_queries_per_s, bool) or not isinstance(healthy_queries_per_s, (int, float)) \
            or not healthy_queries_per_s > 0:
        raise InvalidInput(f"healthy_queries_per_s must be a number above 0, got {healthy_queries_per_s!r}")
    return healthy_queries_per_s * SEED_HEADROOM


@dataclass
class DatabaseStats:
    """Queries the capacity model saw: served, failed past capacity, shed by the application."""

    served: int = 0
    overloaded: int = 0
    shed: int = 0


@dataclass
class DatabaseCapacity:
    """A database that can saturate: a query's time grows with the load, and past capacity some fail.

    Utilisation rho = queries that reached the database in the last `window_ms` (this one included)
    / (queries_per_s x the window). Below capacity a query takes its unloaded time / (1 - rho), the
    response time of an M/M/1 queue whose service time is the unloaded query, at most `timeout_ms`
    (the queue's bound). At or past capacity the database completes only capacity's worth: a share
    1/rho of the queries is served after `timeout_ms`, the rest fail after it (DatabaseOverloaded).

    `shed_reads_at` is the application's load shedding: a read that would lift rho above it is
    refused at once (LoadShed, no time spent, never reaching the database); writes always go.
    The clock is the World's simulated clock (World binds it).
    """

    queries_per_s: float
    window_ms: int = 10_000
    timeout_ms: float = 2_000.0
    shed_reads_at: float | None = None
    seed: int = 0
    clock: object = field(default=None, repr=False)
    stats: DatabaseStats = field(default_factory=DatabaseStats)
    _arrivals: deque = field(default_factory=deque, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("queries_per_s", "timeout_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise InvalidInput(f"{name} must be a finite number above 0, got {value!r}")
        if isinstance(self.window_ms, bool) or not isinstance(self.window_ms, int) or self.window_ms < 1:
            raise InvalidInput(f"window_ms must be a whole number of milliseconds >= 1, got {self.window_ms!r}")
        shed = self.shed_reads_at
        if shed is not None and (isinstance(shed, bool) or not isinstance(shed, (int, float)) or not 0 < shed <= 1):
            raise InvalidInput(f"shed_reads_at must be a utilisation in (0, 1] or None, got {shed!r}")
        self._rng = random.Random(self.seed)

    def utilisation(self, extra: int = 0) -> float:
        """rho over the last window, counting `extra` more queries arriving now."""
        now = self._now()
        while self._arrivals and self._arrivals[0] <= now - self.window_ms:
            self._arrivals.popleft()
        return (len(self._arrivals) + extra) / (self.queries_per_s * self.window_ms / 1000)

    def query(self, unloaded_ms: float, write: bool = False) -> float:
        """The time one query takes at the current load, or DatabaseOverloaded / LoadShed."""
        rho = self.utilisation(extra=1)
        if not write and self.shed_reads_at is not None and rho > self.shed_reads_at:
            self.stats.shed += 1
            raise LoadShed(f"read shed: the database is at {rho:.0%} of capacity", 0.0)
        self._arrivals.append(self._now())
        if rho >= 1:
            if self._rng.random() >= 1 / rho:
                self.stats.overloaded += 1
                raise DatabaseOverloaded(f"database overloaded ({rho:.0%} of capacity): query timed out",
                                         self.timeout_ms)
            self.stats.served += 1
            return self.timeout_ms
        self.stats.served += 1
        return min(unloaded_ms / (1 - rho), self.timeout_ms)

    def _now(self) -> int:
        if self.clock is None:
            raise InvalidInput("DatabaseCapacity needs a clock: give it to a World, which binds its own")
        return self.clock.now_ms()


@dataclass
class LatencyModel:
    """Uniform latency per tier; the defaults are the seed's (cache 1-5 ms, database 50-100 ms).

    `database`, if given, is a DatabaseCapacity: the database then slows down and fails under load.
    """

    cache_ms: tuple[float, float] = (1.0, 5.0)
    database_ms: tuple[float, float] = (50.0, 100.0)
    seed: int = 0
    database: DatabaseCapacity | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, (low, high) in (("cache_ms", self.cache_ms), ("database_ms", self.database_ms)):
            if not 0 <= low <= high:
                raise InvalidInput(f"{name} must be a range (low, high) with 0 <= low <= high")
        if self.database is not None and not isinstance(self.database, DatabaseCapacity):
            raise InvalidInput("database must be a DatabaseCapacity or None")
        self._rng = random.Random(self.seed)

    # Random.uniform(a, b) is a + (b - a) * random(); written out, the same draws cost less.
    def cache_round_trip(self) -> float:
        low, high = self.cache_ms
        return low + (high - low) * self._rng.random()

    def database_query(self, write: bool = False) -> float:
        low, high = self.database_ms
        unloaded = low + (high - low) * self._rng.random()
        return unloaded if self.database is None else self.database.query(unloaded, write)
