"""Chapter 03's contract: what a writer does to the cache once the database has committed, and jittered TTLs.

Shared by the library's tests (tests/test_patterns.py runs the after-commit cases on CacheAside's
delete and WriteThrough's version-checked update; tests/test_stampede.py runs the jitter cases on
`ttl.jittered_ttl`) and chapter 03's exercises (course/exercises/ch03.py).

    after_commit(redis, keys, record, version, ttl_ms)   the database now holds `version`; `record`
                                                         is the cache entry for it (patterns/base.py)
    jittered_ttl(base_s, spread_s, rng) -> int           seconds in [base_s, base_s + spread_s]
"""

from __future__ import annotations

import random
from collections import Counter

from ..course.exercises import AfterFirstGet, expect
from ..patterns.base import PatternContext, decode_record, encode_record
from ..patterns.cache_aside import CacheAside
from ..patterns.concurrency import run_steps
from ..patterns.contract import TTL_MS, USER, fresh, reference_read


def _record(world, text: str, version: int) -> str:
    return encode_record(version, world.clock.now_ms() + TTL_MS, text)


def _commit(world, row, text: str) -> tuple[str, int]:
    """Save `text` as the writer would; return the cache record and version of the new row."""
    row.save(text)
    return _record(world, text, row.version), row.version


def _filled(world):
    """Fresh keys and row, with the current row cached by the library's read (so there is something to go stale)."""
    keys, row = fresh(world)
    reference_read(world)(world.redis, keys, row.load, TTL_MS)
    return keys, row


def write_is_seen(after_commit, world) -> None:
    keys, row = _filled(world)
    record, version = _commit(world, row, "one write")
    after_commit(world.redis, keys, record, version, TTL_MS)
    got = reference_read(world)(world.redis, keys, row.load, TTL_MS)
    expect(got == "one write", "a cached old value, a write, your after_commit, then a read", got, "'one write'")


def out_of_order_writers(after_commit, world) -> None:
    """Writer A commits first, writer B second; B's cache step arrives first (A was paused, or slower)."""
    keys, row = _filled(world)
    a_record, a_version = _commit(world, row, "from A")
    b_record, b_version = _commit(world, row, "from B")
    after_commit(world.redis, keys, b_record, b_version, TTL_MS)
    after_commit(world.redis, keys, a_record, a_version, TTL_MS)
    got = reference_read(world)(world.redis, keys, row.load, TTL_MS)
    expect(got == "from B", "A commits v1, B commits v2; after_commit for B, then for A; then a read", got,
           "'from B' (the database's value): A's late step must not put its older value back")


def version_check_is_atomic(after_commit, world) -> None:
    keys, row = _filled(world)
    a_record, a_version = _commit(world, row, "from A")
    b_record, b_version = _commit(world, row, "from B")
    client = AfterFirstGet(world.redis, keys.data,
                                  lambda: after_commit(world.redis, keys, b_record, b_version, TTL_MS))
    after_commit(client, keys, a_record, a_version, TTL_MS)
    client.finish()  # no GET (a delete, a script): B's step comes after A's
    got = reference_read(world)(world.redis, keys, row.load, TTL_MS)
    expect(got == "from B", "after_commit for A, with B's whole after_commit run right after A's GET of keys.data; "
           "then a read", got, "'from B': compare and set in one step (a Lua script), or just delete")


def entry_keeps_a_ttl(after_commit, world) -> None:
    keys, row = _filled(world)
    record, version = _commit(world, row, "with a TTL")
    after_commit(world.redis, keys, record, version, TTL_MS)
    pttl = world.redis.pttl(keys.data)
    expect(pttl == -2 or 0 < pttl <= TTL_MS, "after_commit, then PTTL of keys.data", pttl,
           f"-2 (deleted) or a TTL from 1 to {TTL_MS} ms; -1 means the entry never expires")


AFTER_COMMIT_CASES = [
    ("after a write, the next read returns the new value", write_is_seen, "delete keys.data, or replace it"),
    ("two writers whose cache steps arrive out of order leave the newer value", out_of_order_writers,
     "an unconditional SET lets the older write win; delete instead, or SET only if the cached version is older"),
    ("a version check is atomic: another writer between your GET and your SET", version_check_is_atomic,
     "GET, compare in Python, SET is two steps; do it in one Lua script, or delete"),
    ("an updated entry still expires", entry_keeps_a_ttl, "SET ... PX ttl_ms"),
]


class LibraryAfterCommit:
    """The library's write step of CacheAside (delete, new generation) or WriteThrough (SET if newer)."""

    def __init__(self, world, pattern=CacheAside, guarded: bool = True):
        self.world, self.pattern, self.guarded = world, pattern, guarded

    def __call__(self, redis, keys, record, version, ttl_ms):
        world = self.world
        context = PatternContext(redis, world.scripts, world.repo, world.keys, world.clock, world.metrics, ttl_ms,
                                 0.0, world.seed)
        text = decode_record(record)[0].value
        pattern = self.pattern(context, guarded=self.guarded)
        with world.metrics.request("profiles", "status_write") as trace:
            run_steps(pattern.after_write(trace, USER, text, version))


# -- jittered TTLs -------------------------------------------------------------------------------

BANDS = [(3600, 300), (60, 10), (86_400, 8640), (300, 0)]


def setex_accepts_it(jittered_ttl, world) -> None:
    ttl = jittered_ttl(3600, 300, random.Random(0))
    key = f"{world.keys.namespace}:jitter-probe"
    try:
        world.redis.setex(key, ttl, "x")
        ok = isinstance(ttl, int) and not isinstance(ttl, bool)
    except Exception:
        ok = False
    expect(ok, "jittered_ttl(3600, 300, random.Random(0)), then SETEX key <that> x", ttl,
           "an int: SETEX takes whole seconds, and Redis refuses '3600.5' (value is not an integer)")


def stays_in_band(jittered_ttl, world) -> None:
    rng = random.Random(1)
    for base, spread in BANDS:
        ttls = [jittered_ttl(base, spread, rng) for _ in range(500)]
        outside = [t for t in ttls if not base <= t <= base + spread]
        expect(not outside, f"jittered_ttl({base}, {spread}, rng) 500 times", sorted(set(outside))[:5],
               f"every TTL from {base} to {base + spread}")


def spreads_evenly(jittered_ttl, world) -> None:
    rng, base, spread = random.Random(2), 3600, 300
    tenths = Counter(min((jittered_ttl(base, spread, rng) - base) * 10 // spread, 9) for _ in range(10_000))
    shares = [tenths.get(i, 0) / 10_000 for i in range(10)]
    expect(all(0.05 <= share <= 0.15 for share in shares), f"jittered_ttl({base}, {spread}, rng) 10,000 times, "
           "the share in each tenth of the band", [f"{share:.0%}" for share in shares], "about 10% in each tenth")


def repeatable_with_a_seed(jittered_ttl, world) -> None:
    first, second = _draws(jittered_ttl, random.Random(7)), _draws(jittered_ttl, random.Random(7))
    expect(first == second, "twenty draws with random.Random(7), twice", (first[:4], second[:4]),
           "the same TTLs both times: draw from the rng you are given, not the random module")


def _draws(jittered_ttl, rng) -> list:
    return [jittered_ttl(3600, 300, rng) for _ in range(20)]


JITTER_CASES = [
    ("Redis' SETEX accepts it: a whole number of seconds", setex_accepts_it,
     "the seed's 3600 + Math.random() * 300 is a float; rng.randint(0, spread_s) is whole"),
    ("every TTL lies in [base_s, base_s + spread_s]", stays_in_band, "add a jitter from 0 to spread_s, never subtract"),
    ("the TTLs spread evenly over the band", spreads_evenly, "a uniform draw over the whole band"),
    ("the same seed gives the same TTLs", repeatable_with_a_seed, "use rng, not the random module's global state"),
]
