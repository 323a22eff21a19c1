"""Caching patterns: each one's contract, the two races replayed, and random interleavings."""

import random

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatsapp_cache import InvalidInput, NotFound, TTLs
from whatsapp_cache.patterns.concurrency import Simulation, run_steps
from whatsapp_cache.patterns import PATTERNS, PatternContext, WriteBehindWorker, make
from whatsapp_cache.patterns.base import Versioned, decode_record
from whatsapp_cache.patterns.compare import MixSpec, compare
from whatsapp_cache.experiments.races import out_of_order_writes, stale_set_race
from whatsapp_cache.invalidation.contract import AFTER_COMMIT_CASES, LibraryAfterCommit
from whatsapp_cache.patterns.cache_aside import CacheAside
from whatsapp_cache.patterns.write_through import WriteThrough
from whatsapp_cache.patterns.contract import (LibraryCacheAside, read_cases, reference_read, reference_update,
                                              update_cases)

USER = "u000001"
FIXED = ("cache-aside", "write-through", "write-behind")


def _pattern(world, name, **options):
    return make(name, PatternContext.from_world(world, **options))


def _drain(world):
    WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, claim_idle_ms=0).drain()


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_a_write_is_read_back(world, name):
    pattern = _pattern(world, name)
    version = pattern.set(USER, "at the gym")
    if name == "TTL only":
        world.clock.advance(pattern.ctx.ttl_ms + 1)
    assert pattern.get(USER).value == "at the gym" and pattern.get(USER).version == version


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_second_read_is_a_hit_without_the_database(world, name):
    pattern = _pattern(world, name)
    pattern.get(USER)
    world.metrics.reset()
    pattern.get(USER)
    (row,) = world.metrics.log
    assert (row.outcome, row.db_queries) == ("hit", 0)


def test_write_behind_acknowledges_before_the_database_has_it(world):
    pattern = _pattern(world, "write-behind")
    version = pattern.set(USER, "queued")
    assert world.repo.status(USER)[0] != "queued"
    assert pattern.get(USER).version == version
    _drain(world)
    assert world.repo.status(USER) == ("queued", version)


def test_write_behind_write_is_one_round_trip_and_no_query(world, backend):
    """One script on one Redis; on a cluster the stream is in another slot: script, then XADD."""
    pattern = _pattern(world, "write-behind")
    pattern.set(USER, "fast")
    (row,) = [r for r in world.metrics.log if r.operation == "status_write"]
    assert (row.round_trips, row.db_queries) == (2 if backend.name == "cluster" else 1, 0)
    assert world.redis.xlen(world.keys.write_behind_stream()) == 1


def test_write_behind_in_two_steps_queues_the_same_entry_and_survives_a_lost_stream(world, monkeypatch):
    """A cluster's two steps (forced here on every backend): the worker gets the one-step entry; if the
    XADD cannot reach Redis, the database takes the write at the version step 1 cached."""
    pattern = _pattern(world, "write-behind")
    pattern.two_steps = True
    version = pattern.set(USER, "two steps")
    ((_, entry),) = world.redis.xrange(world.keys.write_behind_stream())
    assert {name: entry[name] for name in ("user_id", "version", "value")} == \
        {"user_id": USER, "version": str(version), "value": '"two steps"'}
    _drain(world)
    assert world.repo.status(USER) == ("two steps", version)

    def refused(*args, **kwargs):
        raise redis.ConnectionError("injected: the stream's master is away")

    monkeypatch.setattr(world.redis, "xadd", refused)
    later = pattern.set(USER, "stream away")
    monkeypatch.undo()
    assert later > version and world.repo.status(USER) == ("stream away", later)
    assert world.guard.pending == 3, "the cached record and the profile to drop, the version counter to raise"
    assert pattern.get(USER) == Versioned("stream away", later)
    assert pattern.set(USER, "next") > later


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_bad_input_is_rejected_before_any_write(world, name):
    pattern = _pattern(world, name)
    for user, text in ((USER, 5), ("bad id", "x"), (USER, "x" * 300), (None, "x")):
        with pytest.raises(InvalidInput):
            pattern.set(user, text)
    with pytest.raises(NotFound):
        pattern.get("nobody")
    assert world.repo.status(USER)[1] == 1


def test_corrupt_record_is_a_logged_miss(world, caplog):
    pattern = _pattern(world, "cache-aside")
    pattern.get(USER)
    world.redis.set(world.keys.status(USER).data, "{not json")
    assert pattern.get(USER).version == 1
    assert "corrupt cache entry" in caplog.text
    assert decode_record(world.redis.get(world.keys.status(USER).data))[0].version == 1


def test_stale_set_race_leaves_an_old_value_in_the_naive_version(world, figures):
    timeline, later = stale_set_race(world, USER, guarded=False)
    figures(f"stale-set race, naive ({world.config.redis_label}): later read v{later.version}, "
            f"database v{world.repo.status(USER)[1]}")
    assert later.version == 1 and world.repo.status(USER)[1] == 2
    assert timeline[-1].cache.startswith("v1")


def test_stale_set_race_never_sticks_with_the_generation_check(world):
    timeline, later = stale_set_race(world, USER, guarded=True)
    assert later.version == 2 and timeline[-1].cache == "nothing"


@pytest.mark.parametrize("side", ["read", "update"])
def test_cache_aside_passes_its_contract_the_one_chapter_02_checks(world, side):
    """patterns/contract.py: the cases the exercises run, here on the library's own read and update."""
    library = LibraryCacheAside(world)
    cases = read_cases(reference_update) if side == "read" else update_cases(reference_read)
    for _describe, run, _hint in cases:
        run(getattr(library, side), world)


@pytest.mark.parametrize("side", ["read", "update"])
def test_the_seeds_cache_aside_fails_the_contract_first_at_the_race(world, side):
    naive = LibraryCacheAside(world, guarded=False)
    cases = read_cases(reference_update) if side == "read" else update_cases(reference_read)
    failed = []
    for describe, run, _hint in cases:
        try:
            run(getattr(naive, side), world)
        except AssertionError:
            failed.append(describe)
    assert failed and failed[0].startswith("the stale-set race")


@pytest.mark.parametrize("pattern", [CacheAside, WriteThrough], ids=["delete", "update if newer"])
def test_both_write_steps_pass_the_after_commit_contract_the_one_chapter_03_checks(world, pattern):
    for _describe, run, _hint in AFTER_COMMIT_CASES:
        run(LibraryAfterCommit(world, pattern), world)


def test_naive_write_through_fails_the_after_commit_contract_at_out_of_order_writers(world):
    failed = []
    for describe, run, _hint in AFTER_COMMIT_CASES:
        try:
            run(LibraryAfterCommit(world, WriteThrough, guarded=False), world)
        except AssertionError:
            failed.append(describe)
    assert failed and failed[0].startswith("two writers whose cache steps arrive out of order")


def test_out_of_order_writes_leave_the_older_value_in_naive_write_through(world):
    _, later = out_of_order_writes(world, USER, guarded=False)
    assert later.value == "from A" and world.repo.status(USER)[0] == "from B"


def test_out_of_order_writes_keep_the_newer_value_when_versions_are_compared(world):
    _, later = out_of_order_writes(world, USER, guarded=True)
    assert later.value == "from B" == world.repo.status(USER)[0]


def test_jitter_spreads_expiries_within_the_bound(world):
    pattern = _pattern(world, "cache-aside", ttl_s=100, jitter=0.2)
    users = [f"u{i:06d}" for i in range(20)]
    for user in users:
        pattern.get(user)
    ttls = [world.redis.pttl(world.keys.status(user).data) for user in users]
    assert len(set(ttls)) > 10
    assert all(99_000 <= ttl <= 120_000 for ttl in ttls)


def test_data_types_honour_ttl_jitter(make_world):
    world = make_world(ttls=TTLs(jitter=0.5))
    for i in range(10):
        world.profiles.get(f"u{i:06d}")
    ttls = {world.redis.pttl(world.keys.profile(f"u{i:06d}").data) // 1000 for i in range(10)}
    assert len(ttls) > 3 and all(86_300 <= t <= 129_600 for t in ttls)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(st.booleans(), min_size=2, max_size=6), order_seed=st.integers(0, 10_000),
       name=st.sampled_from(FIXED))
def test_no_interleaving_leaves_a_lasting_stale_entry(world, operations, order_seed, name):
    """Any interleaving of readers (False) and writers (True): once all are done, the cache agrees with the truth."""
    world.flush_cache()
    pattern = _pattern(world, name)
    user = f"u{FIXED.index(name):06d}"  # one user per pattern: their version schemes differ (see write_behind.py)
    actors = [pattern.write(user, f"w{i}") if is_write else pattern.read(user) for i, is_write in enumerate(operations)]
    rng = random.Random(order_seed)
    while actors:
        actor = rng.choice(actors)
        try:
            next(actor)
        except StopIteration:
            actors.remove(actor)
    if name == "write-behind":
        _drain(world)
    latest = world.repo.status(user)
    raw = world.redis.get(world.keys.status(user).data)
    if raw is not None:
        assert decode_record(raw)[0].version == latest[1]
    assert pattern.get(user).version == latest[1]


def test_simulation_interleaves_by_time(world):
    order = []

    def actor(name, delays):
        for delay in delays:
            order.append(name)
            yield delay

    simulation = Simulation(world.clock)
    start = world.clock.now_ms()
    simulation.spawn(actor("slow", [50, 50]), at_ms=start)
    simulation.spawn(actor("fast", [10, 10, 10]), at_ms=start + 1)
    simulation.run()
    assert order == ["slow", "fast", "fast", "fast", "slow"]
    assert world.clock.now_ms() == start + 100


def test_run_steps_returns_the_result_and_moves_the_clock(world):
    def op():
        yield 25
        return "done"

    before = world.clock.now_ms()
    assert run_steps(op(), world.clock) == "done" and world.clock.now_ms() == before + 25


def test_comparison_shows_each_pattern_trade_off(figures):
    rows = {r.pattern: r for r in compare(MixSpec(operations=600, seed=3))}
    for r in rows.values():
        figures(f"pattern {r.pattern:<20} db writes {r.db_writes:>4}  stale reads {r.stale_share:6.1%}  "
                f"longest stale {r.longest_stale_ms:>6} ms  write {r.avg_write_ms:5.1f} ms (simulated)")
    assert rows["write-behind"].db_writes < rows["write-through"].db_writes
    assert rows["write-behind"].avg_write_ms < rows["write-through"].avg_write_ms / 5
    assert rows["TTL only"].stale_share > 0.3 > rows["cache-aside"].stale_share
    assert rows["cache-aside"].longest_stale_ms < rows["TTL only"].longest_stale_ms
    assert rows["write-through"].hit_ratio > rows["cache-aside"].hit_ratio


def test_comparison_is_repeatable():
    spec = MixSpec(operations=300, seed=5)
    assert compare(spec, ["cache-aside (naive)"]) == compare(spec, ["cache-aside (naive)"])


def test_flushing_the_cache_keeps_writes_on_their_way_to_the_database(world):
    pattern = _pattern(world, "write-behind")
    version = pattern.set(USER, "queued before a flush")
    world.flush_cache()
    assert world.redis.exists(world.keys.write_behind_stream(), world.keys.status_version(USER)) == 2
    _drain(world)
    assert world.repo.status(USER) == ("queued before a flush", version)
    assert pattern.set(USER, "after") > version


def test_patterns_run_on_the_system_clock(make_world):
    from whatsapp_cache import SystemClock

    world = make_world(clock=SystemClock())
    pattern = _pattern(world, "write-through")
    version = pattern.set(USER, "real time")
    assert pattern.get(USER) == pattern.get(USER) and pattern.get(USER).version == version


@pytest.mark.parametrize("name", ["cache-aside", "cache-aside (naive)", "write-through", "TTL only"])
def test_writing_for_an_unknown_user_is_not_found(world, name):
    with pytest.raises(NotFound):
        _pattern(world, name).set("nobody", "hello")
