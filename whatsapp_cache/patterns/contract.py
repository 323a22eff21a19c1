"""Cache-aside's contract, in one place: the cases the library's CacheAside passes (tests/test_patterns.py)
and that chapter 02's exercises run against a learner's read and update (course/exercises/ch02.py).

A read is `read(redis, keys, load, ttl_ms) -> value` and an update is `update(redis, keys, save, text, ttl_ms)`:
`keys.data` holds the cached value, `keys.generation` the generation token (datatypes/generation.py);
`load()` and `save(text)` reach the user's row in the real database. The protocol both sides share:

    update: save(text), then in one step DEL data and SET generation <new token>
    read:   GET data -> hit; miss -> claim the generation token, load(), fill only if it is unchanged

Each case runs one side against the library's other side, on a World's Redis and database. A
`Row` lets a case run a step inside another: a write between a reader's load and its fill (the
stale-set race), or a read while a writer is saving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..course.exercises import expect
from .base import PatternContext
from .cache_aside import CacheAside

USER = "u000001"
TTL_MS = 60_000


@dataclass
class Row:
    """The user's status row; `after_load` / `before_save` run once, inside the next load / save."""

    world: object
    user_id: str = USER
    loads: int = 0
    saves: int = 0
    after_load: Callable[[], None] | None = None
    before_save: Callable[[], None] | None = None
    version: int = field(default=0)

    def load(self) -> str:
        value, self.version = self.world.repo.status(self.user_id)
        self.loads += 1
        self._run("after_load")
        return value

    def save(self, text: str) -> None:
        self._run("before_save")
        self.version = self.world.repo.write_status(self.user_id, text, self.world.clock.now_ms())
        self.saves += 1

    def current(self) -> str:
        return self.world.repo.status(self.user_id)[0]

    def _run(self, name: str) -> None:
        hook = getattr(self, name)
        setattr(self, name, None)
        if hook is not None:
            hook()


def fresh(world) -> tuple[object, Row]:
    """The user's status keys with nothing cached (nor any generation), and a row that counts from 0."""
    keys = world.keys.status(USER)
    world.redis.delete(keys.data, keys.generation, *keys.siblings)
    return keys, Row(world)


class LibraryCacheAside:
    """The library's CacheAside (the guarded one, or the seed's with guarded=False) behind the
    exercise's signatures: its repository is the row reached through load() and save()."""

    def __init__(self, world, guarded: bool = True):
        self.world, self.guarded = world, guarded

    def read(self, redis, keys, load, ttl_ms):
        return self._pattern(load, None, ttl_ms).get(USER).value

    def update(self, redis, keys, save, text, ttl_ms):
        self._pattern(None, save, ttl_ms).set(USER, text)

    def _pattern(self, load, save, ttl_ms) -> CacheAside:
        world = self.world
        context = PatternContext(world.redis, world.scripts, _RowRepo(load, save), world.keys, world.clock,
                                 world.metrics, ttl_ms, 0.0, world.seed)
        return CacheAside(context, guarded=self.guarded)


class _RowRepo:
    """Just enough of a Repository for CacheAside: status() is load(), write_status() is save()."""

    def __init__(self, load, save):
        self._load, self._save, self._version = load, save, 0

    def status(self, user_id):
        return self._load(), self._version

    def write_status(self, user_id, text, now_ms):
        self._save(text)
        self._version += 1
        return self._version


# -- a read, against the library's update ----------------------------------------------------------

def read_misses_then_loads(read, world) -> None:
    keys, row = fresh(world)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == row.current() and row.loads == 1, "read on an empty cache", (got, f"{row.loads} loads"),
           f"({row.current()!r}, '1 loads'): the database's value, read once")


def second_read_is_a_hit(read, world) -> None:
    keys, row = fresh(world)
    read(world.redis, keys, row.load, TTL_MS)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == row.current() and row.loads == 1, "read twice", (got, f"{row.loads} loads"),
           f"({row.current()!r}, '1 loads'): the second read is served by Redis")


def fill_has_a_ttl(read, world) -> None:
    keys, row = fresh(world)
    read(world.redis, keys, row.load, TTL_MS)
    pttl = world.redis.pttl(keys.data)
    expect(0 < pttl <= TTL_MS, f"read with ttl_ms={TTL_MS}, then PTTL of keys.data", pttl,
           f"a TTL from 1 to {TTL_MS} ms (-1 is no TTL, -2 no key: the value was not cached)")


def read_after_update_is_new(read, world, update) -> None:
    keys, row = fresh(world)
    read(world.redis, keys, row.load, TTL_MS)
    update(world.redis, keys, row.save, "after the update", TTL_MS)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == "after the update", "read, the library's update, read", got, "'after the update'")


def stale_set_race_is_refused(read, world, update) -> None:
    """A writer commits and invalidates after the reader's SELECT and before its fill."""
    keys, row = fresh(world)
    row.after_load = lambda: update(world.redis, keys, row.save, "written during your read", TTL_MS)
    read(world.redis, keys, row.load, TTL_MS)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == "written during your read",
           "read (it misses and loads the old row; a write commits and invalidates before your fill), then read again",
           got, "'written during your read': the first read must not have cached the old value")


def vanished_generation_is_refused(read, world, update) -> None:
    """As the race, and then the generation key is evicted: an absent token must not match."""
    keys, row = fresh(world)

    def write_then_evict():
        update(world.redis, keys, row.save, "written, then the generation evicted", TTL_MS)
        world.redis.delete(keys.generation)

    row.after_load = write_then_evict
    read(world.redis, keys, row.load, TTL_MS)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == "written, then the generation evicted",
           "read (a write commits during your load, then keys.generation is evicted), then read again", got,
           "'written, then the generation evicted': an absent generation is not the one you claimed")


def read_cases(update_for: Callable) -> list[tuple[str, Callable, str]]:
    """(describe, run(read, world), hint) for a read; `update_for(world)` is the writer it runs against."""
    def against(scenario):
        return lambda read, world: scenario(read, world, update_for(world))
    return [
        ("a miss reads the database once and returns its value", read_misses_then_loads, ""),
        ("a second read is a hit (no database read)", second_read_is_a_hit, "store what you loaded in keys.data"),
        ("the fill has a TTL", fill_has_a_ttl, "SET ... PX ttl_ms"),
        ("after an update, the next read returns the new value", against(read_after_update_is_new), ""),
        ("the stale-set race: a write between your load and your fill leaves no old value",
         against(stale_set_race_is_refused),
         "claim the generation token BEFORE load(), and fill only if it is still the same, in one atomic step"),
        ("a generation evicted between your load and your fill refuses the fill",
         against(vanished_generation_is_refused),
         "claim with SET keys.generation <new token> NX, then GET it: an absent key never equals your token"),
    ]


# -- an update, against the library's read --------------------------------------------------------

def update_reaches_database_and_readers(update, world, read) -> None:
    keys, row = fresh(world)
    read(world.redis, keys, row.load, TTL_MS)
    update(world.redis, keys, row.save, "updated", TTL_MS)
    got = (row.current(), row.saves, read(world.redis, keys, row.load, TTL_MS))
    expect(got == ("updated", 1, "updated"), "a read, update(..., 'updated'), then the database and a read", got,
           "('updated', 1, 'updated'): one database write, and the next read sees it")


def read_during_save_is_not_kept(update, world, read) -> None:
    """A reader that misses while the writer saves reads the old row; the writer's invalidation must come after."""
    keys, row = fresh(world)
    read(world.redis, keys, row.load, TTL_MS)
    row.before_save = lambda: read(world.redis, keys, row.load, TTL_MS)
    update(world.redis, keys, row.save, "saved while someone read", TTL_MS)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == "saved while someone read",
           "update (a reader misses and fills the old row just before your save), then read", got,
           "'saved while someone read': touch the cache only after the database has the new value")


def update_inside_a_read_is_not_undone(update, world, read) -> None:
    keys, row = fresh(world)
    row.after_load = lambda: update(world.redis, keys, row.save, "your update won", TTL_MS)
    read(world.redis, keys, row.load, TTL_MS)
    got = read(world.redis, keys, row.load, TTL_MS)
    expect(got == "your update won",
           "a reader loads the old row; your update runs before its fill; then read again", got,
           "'your update won': the reader's fill must be refused (a new generation), not just the key deleted")


def update_cases(read_for: Callable) -> list[tuple[str, Callable, str]]:
    """(describe, run(update, world), hint) for an update; `read_for(world)` is the reader it runs against."""
    def against(scenario):
        return lambda update, world: scenario(update, world, read_for(world))
    return [
        ("an update writes the database once and the next read sees it", against(update_reaches_database_and_readers),
         "save(text) first, then drop keys.data"),
        ("a read during your database write leaves no old value", against(read_during_save_is_not_kept),
         "save first: a reader that misses before the save would fill the old value after your delete"),
        ("the stale-set race: your update between a reader's load and its fill wins",
         against(update_inside_a_read_is_not_undone),
         "DEL keys.data and SET keys.generation to new_token() in one MULTI or script"),
    ]


def reference_update(world, guarded: bool = True) -> Callable:
    return LibraryCacheAside(world, guarded).update


def reference_read(world, guarded: bool = True) -> Callable:
    return LibraryCacheAside(world, guarded).read


__all__ = ["LibraryCacheAside", "Row", "TTL_MS", "USER", "fresh", "read_cases", "reference_read",
           "reference_update", "update_cases"]
