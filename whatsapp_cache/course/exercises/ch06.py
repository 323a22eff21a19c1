"""Chapter 06's exercises: a read that falls back to the database, and a circuit breaker's state machine."""

from __future__ import annotations

import json

from ...experiments.faults import unreachable
from ...resilience import BREAKER_CONTRACT, BreakerScenario, replay_breaker
from . import Case, expect, exercise

USER = "u000003"
TTL_S = 3_600


class _Database:
    """The database behind one case: `load()` reads the user's row and counts the calls."""

    def __init__(self, bench):
        self.repo, self.calls = bench.world.repo, 0

    def load(self):
        self.calls += 1
        return self.repo.user(USER)


def _setup(bench, name: str, cached=None):
    """A key of the bench's namespace (holding `cached` as JSON, or absent), Redis warmed up, a counting database."""
    key = f"{bench.world.keys.namespace}:ex06:{name}"
    redis = bench.world.redis
    redis.delete(key)
    if cached is not None:
        redis.set(key, json.dumps(cached), ex=TTL_S)
    redis.ping()  # the connection is open before any fault is injected
    return redis, key, _Database(bench)


def _call(key: str) -> str:
    """The call as the learner would write it (the key without the check's own namespace)."""
    return f"read_with_fallback(redis, {key.split(':', 1)[1]!r}, load, ttl_s={TTL_S})"


def _miss_returns_the_row(read, bench) -> None:
    redis, key, db = _setup(bench, "miss")
    got = read(redis, key, db.load, TTL_S)
    expect(got == db.repo.user(USER) and db.calls == 1, _call(key) + " on an empty cache", got,
           f"the database's row for {USER}, loaded once")


def _miss_caches_json_with_a_ttl(read, bench) -> None:
    redis, key, db = _setup(bench, "fill")
    read(redis, key, db.load, TTL_S)
    stored, ttl = redis.get(key), redis.ttl(key)
    try:
        decoded = json.loads(stored) if stored is not None else None
    except ValueError:
        decoded = "not JSON"
    expect(decoded == db.repo.user(USER) and 0 < ttl <= TTL_S, _call(key) + ", then GET and TTL of the key",
           (stored, ttl), f"the row as JSON, with a TTL from 1 to {TTL_S} s")


def _hit_skips_the_database(read, bench) -> None:
    cached = {"id": USER, "username": "from the cache"}
    redis, key, db = _setup(bench, "hit", cached)
    got = read(redis, key, db.load, TTL_S)
    expect(got == cached and db.calls == 0, _call(key) + " with the entry cached", (got, f"{db.calls} loads"),
           "the cached value, decoded from JSON, and 0 database loads")


def _outage(mode: str, after: int = 0):
    def run(read, bench) -> None:
        redis, key, db = _setup(bench, f"{mode}-{after}")
        with unreachable(mode, after=after):
            got = read(redis, key, db.load, TTL_S)
        expect(got == db.repo.user(USER) and db.calls == 1, _call(key) + f" {_OUTAGES[mode, after]}", got,
               f"the database's row for {USER}, loaded once, and no exception")
    return run


_OUTAGES = {("refused", 0): "with Redis down (every call: ConnectionError)",
            ("timeout", 0): "with Redis hung (every call: TimeoutError)",
            ("refused", 1): "with Redis dying after the read (the write: ConnectionError)"}


def _no_entry_without_a_ttl(read, bench) -> None:
    """Seed bug 5: SET, then EXPIRE; Redis dying between the two leaves an entry that never expires."""
    redis, key, db = _setup(bench, "no-ttl")
    with unreachable(after=2):
        read(redis, key, db.load, TTL_S)
    ttl = redis.ttl(key)
    expect(ttl != -1, _call(key) + " with Redis dying after two round trips, then TTL of the key", ttl,
           "-2 (nothing cached) or a TTL, never -1 (an entry that never expires): write the value and "
           "its TTL in one command")


@exercise("read_with_fallback", "06", "a read that falls back to the database when Redis is down",
          hint="GET; on a hit json.loads it; on a miss load(), then SET key json.dumps(value) ex=ttl_s; "
               "wrap every Redis call in try/except (redis.ConnectionError, redis.TimeoutError).")
def _read_with_fallback_cases() -> list[Case]:
    return [Case("a miss returns the database's row", _miss_returns_the_row),
            Case("a miss caches the row as JSON with a TTL", _miss_caches_json_with_a_ttl),
            Case("a hit is answered by Redis, without the database", _hit_skips_the_database),
            Case("with Redis down, the database answers", _outage("refused")),
            Case("with Redis hung (timeouts), the database answers", _outage("timeout")),
            Case("with Redis dying between the read and the write, the row is still returned",
                 _outage("refused", after=1)),
            Case("no entry is left without a TTL when Redis dies mid-write", _no_entry_without_a_ttl)]


def _scenario(scenario: BreakerScenario):
    def run(breaker_class, _bench) -> None:
        found = replay_breaker(scenario, breaker_class)
        if found is not None:
            called, got, expected = found
            expect(False, called, got, expected)
    return run


@exercise("Breaker", "06", "a circuit breaker's state machine",
          hint="count failures in a row (a success resets the count); at the threshold open and note "
               "clock.now_ms(); permit() after reset_after_ms moves to half-open and lets one caller "
               "probe; success closes, failure opens again from now.")
def _breaker_cases() -> list[Case]:
    return [Case(s.describe, _scenario(s)) for s in BREAKER_CONTRACT]
