"""Stale-if-error: a last known good copy answers only when Redis and the database both fail."""

import threading
from contextlib import contextmanager

import pytest
from support import GROUP, SMALL_CHAT, SMALL_CHAT_USERS

from whatsapp_cache import InvalidInput, LatencyModel, World
from whatsapp_cache.clock import SimulatedClock
from whatsapp_cache.experiments.chaos import ChaosSpec, FakeOutage, format_report, run_chaos
from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.resilience.last_known_good import LastKnownGood
from whatsapp_cache.latency import DatabaseCapacity, DatabaseUnavailable
from whatsapp_cache.resilience import FailurePolicy

USER = "u000004"
A, B = SMALL_CHAT_USERS
FIVE_MINUTES = 300_000


# --- the store -------------------------------------------------------------------------------

def test_a_copy_is_served_with_its_age_until_the_bound():
    clock = SimulatedClock()
    store = LastKnownGood(clock, max_age_ms=1_000)
    store.keep("k", "v")
    clock.advance(1_000)
    assert store.serve("k") == ("v", 1_000)  # at the bound: still served
    clock.advance(1)
    assert store.serve("k") is None and len(store) == 0  # past it: refused and dropped
    assert (store.stats.served, store.stats.too_old, [age for _, age in store.stats.served_ages]) == (1, 1, [1_000])


def test_the_store_keeps_the_last_value_and_forgets_on_a_write():
    store = LastKnownGood(SimulatedClock())
    store.keep("k", 1)
    store.keep("k", 2)
    assert store.serve("k")[0] == 2
    store.forget("k")
    assert store.serve("k") is None and store.stats.missing == 1


def test_the_store_is_bounded_least_recently_kept_first_out():
    store = LastKnownGood(SimulatedClock(), maxsize=3)
    for key in "abcd":
        store.keep(key, key)
    store.keep("b", "b again")  # b becomes the most recent
    store.keep("e", "e")
    assert len(store) == 3 and store.serve("a") is None and store.serve("c") is None
    assert [store.serve(key)[0] for key in "bde"] == ["b again", "d", "e"]


def test_the_store_is_thread_safe_and_stays_bounded():
    store = LastKnownGood(SimulatedClock(), maxsize=100)

    def work(offset):
        for n in range(2_000):
            store.keep((offset, n % 150), n)
            store.serve((offset, (n * 7) % 150))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 100 and store.stats.kept == 8_000


@pytest.mark.parametrize("options", [{"stale_if_error_ms": 0}, {"stale_if_error_ms": 1.5},
                                     {"stale_if_error_ms": True}, {"stale_entries": 0}])
def test_bad_stale_settings_raise_invalid_input(options):
    with pytest.raises(InvalidInput):
        FailurePolicy(**options)


def test_stale_if_error_is_off_by_default():
    assert FailurePolicy().stale_if_error_ms is None and World(dataset="tiny").last_good is None


# --- in the data types -------------------------------------------------------------------------

@contextmanager
def database_refusing(world):
    """Every read shed and every write overloaded, on the world's clock."""
    kept = world.latency.database
    world.latency.database = DatabaseCapacity(1e-6, shed_reads_at=0.5, clock=world.clock)
    try:
        yield
    finally:
        world.latency.database = kept


@pytest.fixture
def stale_world(make_world):
    return make_world(failure_policy=FailurePolicy(stale_if_error_ms=FIVE_MINUTES, stale_entries=100))


READS = {"profile": lambda w: w.profiles.get(USER), "group": lambda w: w.groups.members(GROUP),
         "conversation": lambda w: w.messages.recent(SMALL_CHAT, 20)}


@pytest.mark.no_cluster
@pytest.mark.parametrize("kind", sorted(READS))
def test_a_copy_answers_only_when_redis_and_the_database_both_fail(stale_world, kind):
    read = READS[kind]
    seen = read(stale_world)
    with unreachable():  # Redis away, the database fine: the database answers
        assert read(stale_world) == seen and stale_world.metrics.log[-1].outcome == "fallback"
    with database_refusing(stale_world):  # Redis up, the database refusing: a hit answers; a miss would fail
        assert read(stale_world) == seen and stale_world.metrics.log[-1].outcome == "hit"
        stale_world.flush_cache()
        with pytest.raises(DatabaseUnavailable):
            read(stale_world)
        with unreachable():  # both away: the copy, marked stale
            assert read(stale_world) == seen
    record = stale_world.metrics.log[-1]
    assert (record.outcome, record.db_queries) == ("stale", 0)
    assert stale_world.metrics.of(record.data_type).served_stale == 1


@pytest.mark.no_cluster
def test_a_copy_older_than_the_bound_is_never_served(stale_world):
    stale_world.profiles.get(USER)
    stale_world.clock.advance(FIVE_MINUTES + 1)
    with unreachable(), database_refusing(stale_world), pytest.raises(DatabaseUnavailable):
        stale_world.profiles.get(USER)
    assert stale_world.last_good.stats.too_old == 1


@pytest.mark.no_cluster
def test_a_session_is_never_authenticated_from_a_copy(stale_world):
    token = stale_world.dataset.session_token(A)
    assert stale_world.sessions.authenticate(token) is not None
    with unreachable(), database_refusing(stale_world), pytest.raises(DatabaseUnavailable):
        stale_world.sessions.authenticate(token)
    assert stale_world.last_good.stats.kept == 0


@pytest.mark.no_cluster
def test_a_write_forgets_the_copy_and_is_never_answered_from_one(stale_world):
    stale_world.profiles.get(USER)
    with unreachable():
        stale_world.profiles.update(USER, status_message="changed while Redis was away")
        with database_refusing(stale_world):
            with pytest.raises(DatabaseUnavailable):
                stale_world.profiles.get(USER)  # never this process's overwritten value
            with pytest.raises(DatabaseUnavailable):
                stale_world.profiles.update(USER, status_message="again")
    assert stale_world.metrics.summary()[-1].served_stale == 0


@pytest.mark.no_cluster
def test_stale_first_answers_from_the_copy_while_the_circuit_is_open(make_world):
    world = make_world(failure_policy=FailurePolicy(stale_if_error_ms=FIVE_MINUTES, stale_first=True))
    seen = world.profiles.get(USER)
    with unreachable():
        for _ in range(3):  # the circuit opens on the third failure; the database still answers
            world.groups.members(GROUP)
        assert world.profiles.get(USER) == seen
        record = world.metrics.log[-1]
        assert (record.outcome, record.round_trips, record.db_queries) == ("stale", 0, 0)
        world.clock.advance(world.failure_policy.reset_after_ms)  # the pause is over: this read is the probe
        assert world.profiles.get(USER) == seen and world.metrics.log[-1].outcome == "fallback"


# --- in the chaos report -----------------------------------------------------------------------

SPEC = ChaosSpec(actions=1_200, duration_s=300, outage_from_s=100, outage_until_s=200)


def chaos_run(stale_ms, capacity=6.0):
    world = World(latency=LatencyModel(seed=0, database=DatabaseCapacity(capacity, shed_reads_at=0.8)),
                  failure_policy=FailurePolicy(stale_if_error_ms=stale_ms))
    return run_chaos(world, FakeOutage(world, "down"), SPEC)


def test_the_chaos_report_counts_the_stale_answers_and_their_ages():
    report = chaos_run(60_000)
    before, during, after = report.phases
    assert report.served_stale == during.served_stale > 0 and before.served_stale == after.served_stale == 0
    assert sum(bucket.served_stale for bucket in report.timeline) == report.served_stale
    assert sum(bucket.failed for bucket in report.timeline) == report.failed
    assert len(report.stale_ages_s) == report.served_stale and max(report.stale_ages_s) <= 60
    assert report.lost_writes == 0 and report.stale == 0
    text = format_report(report)
    assert "stale-if-error up to 60 s" in text and f"Served stale         {report.served_stale:,} reads" in text
    assert report.to_dict()["served_stale"] == report.served_stale


def test_without_stale_if_error_the_report_says_nothing_of_it():
    report = chaos_run(None)
    assert report.served_stale == 0 and report.stale_ages_s == [] and "Served stale" not in format_report(report)


def test_a_run_without_the_audit_says_it_was_not_checked():
    world = World()
    report = run_chaos(world, FakeOutage(world, "down"), ChaosSpec(actions=300, duration_s=60, outage_from_s=20,
                                                                   outage_until_s=40), audit=False)
    assert report.audit is None and report.stale is None and report.to_dict()["stale"] is None
    assert "Stale entries        not checked" in format_report(report) and report.lost_writes == 0
