"""Redis unavailable: the breaker, the database fallback, writes that still land, repair on return."""

from __future__ import annotations

import logging

import time

import pytest
import redis
from redis.exceptions import (ClusterCrossSlotError, ClusterDownError, ClusterError, MasterDownError,
                              SlotNotCoveredError, TryAgainError)

from support import GROUP, SMALL_CHAT, SMALL_CHAT_USERS

from whatsapp_cache import InvalidInput, World
from whatsapp_cache.backends import ClusterUnreachable, make_redis
from whatsapp_cache.clock import SimulatedClock
from whatsapp_cache.config import BackendConfig
from whatsapp_cache.datatypes import PerHeartbeatPresence
from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.lab.cluster import LocalCluster
from whatsapp_cache.latency import LatencyModel
from whatsapp_cache.metrics import Trace
from whatsapp_cache.patterns import PatternContext, Versioned, WriteBehindWorker, make
from whatsapp_cache.lab.process import free_port
from whatsapp_cache.resilience import (BREAKER_CONTRACT, CLOSED, HALF_OPEN, OPEN, CacheGuard, CacheUnavailable,
                                       CircuitBreaker, FailurePolicy, execute_keeping_errors, replay_breaker)

USER = "u000004"
A, B = SMALL_CHAT_USERS


# The breaker on its own -------------------------------------------------------------------------

def test_breaker_opens_after_the_threshold_and_probes_once_after_the_pause():
    clock = SimulatedClock()
    breaker = CircuitBreaker(clock, failure_threshold=3, reset_after_ms=5_000)
    for _ in range(2):
        assert breaker.permit() == CLOSED
        breaker.failure()
    assert breaker.state == CLOSED
    breaker.failure()
    assert breaker.permit() == OPEN
    clock.advance(4_999)
    assert breaker.permit() == OPEN
    clock.advance(1)
    assert breaker.permit() == HALF_OPEN          # the one probe
    assert breaker.permit() == OPEN               # everyone else waits for its answer
    breaker.failure()                              # still down: another full pause
    clock.advance(4_999)
    assert breaker.permit() == OPEN
    clock.advance(1)
    assert breaker.permit() == HALF_OPEN
    breaker.success()
    assert breaker.permit() == CLOSED
    assert [state for _, state in breaker.transitions] == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_a_success_resets_the_count_of_failures_in_a_row():
    breaker = CircuitBreaker(SimulatedClock(), failure_threshold=2)
    for _ in range(5):
        breaker.failure()
        breaker.success()
    assert breaker.state == CLOSED and breaker.transitions == []


@pytest.mark.parametrize("scenario", BREAKER_CONTRACT, ids=lambda s: s.describe)
def test_the_breaker_passes_its_contract(scenario):
    """The scenarios chapter 06's exercise checks a learner's breaker against (tests/wrong_ch06.py shows
    them rejecting breakers that never open, never probe, or count failures that are not in a row)."""
    assert replay_breaker(scenario, CircuitBreaker) is None


@pytest.mark.parametrize("options", [{"timeout_s": 0}, {"timeout_s": "1"}, {"failure_threshold": 0},
                                     {"reset_after_ms": 0}, {"max_pending": -1}, {"connect_timeout_s": 61}])
def test_bad_failure_policies_are_refused(options):
    with pytest.raises(InvalidInput):
        FailurePolicy(**options)


def test_world_refuses_a_failure_policy_of_the_wrong_type():
    with pytest.raises(InvalidInput):
        World(dataset=None, failure_policy={"timeout_s": 1})


# The guard on its own ---------------------------------------------------------------------------

def _guard(**policy):
    client = make_redis(BackendConfig())
    clock = SimulatedClock()
    return CacheGuard(client, clock, FailurePolicy(**policy)), client, clock


def _trace(guard):
    return Trace("profiles", "get", LatencyModel(), guard=guard)


def test_an_open_circuit_refuses_without_a_round_trip():
    guard, client, _ = _guard(failure_threshold=1)
    with unreachable():
        with pytest.raises(CacheUnavailable):
            _trace(guard).cache(client.get, "k")
        trace = _trace(guard)
        with pytest.raises(CacheUnavailable, match="circuit open"):
            trace.cache(client.get, "k")
    assert (trace.round_trips, trace.simulated_ms, trace.cache_failures) == (0, 0.0, 1)
    assert (guard.stats.failed, guard.stats.refused) == (1, 1)


def test_a_timeout_costs_the_whole_timeout_in_simulated_time():
    guard, client, _ = _guard(timeout_s=0.25)
    trace = _trace(guard)
    with unreachable("timeout"), pytest.raises(CacheUnavailable):
        trace.cache(client.get, "k")
    assert 250 + 1 <= trace.simulated_ms <= 250 + 5 and guard.stats.timeouts == 1


def test_an_error_reply_means_redis_is_up():
    guard, client, _ = _guard(failure_threshold=1)
    client.set("k", "a string")
    with pytest.raises(redis.ResponseError):
        _trace(guard).cache(client.hgetall, "k")
    assert guard.breaker.state == CLOSED


def test_remembered_keys_are_dropped_before_the_next_call_with_a_new_generation():
    guard, client, _ = _guard()
    client.set("data", "old")
    client.set("copy", "old too")
    client.set("gen", "~g0000000000000007")
    guard.remember("data", "gen", 60_000, siblings=("copy",))
    assert guard.pending == 2
    trace = _trace(guard)
    assert trace.cache(client.get, "data") is None and client.get("copy") is None
    assert client.get("gen") not in (None, "~g0000000000000007") and 0 < client.pttl("gen") <= 60_000
    assert guard.pending == 0 and guard.stats.repaired == 2 and trace.round_trips == 2


def test_a_repair_that_fails_keeps_its_keys_for_the_next_try():
    guard, client, _ = _guard()
    client.set("data", "old")
    guard.remember("data")
    with unreachable(), pytest.raises(CacheUnavailable):
        _trace(guard).cache(client.get, "other")
    assert guard.pending == 1 and client.get("data") == "old"
    _trace(guard).cache(client.get, "other")
    assert guard.pending == 0 and client.get("data") is None


def test_too_many_missed_keys_empty_the_namespace_instead():
    client = make_redis(BackendConfig())
    flushed = []
    guard = CacheGuard(client, SimulatedClock(), FailurePolicy(max_pending=2), flush=lambda: flushed.append(1) or 0)
    for n in range(3):
        guard.remember(f"k{n}")
    assert guard.pending == 2
    _trace(guard).cache(client.get, "x")
    assert flushed == [1] and guard.stats.namespace_flushes == 1 and guard.pending == 0


def test_with_repair_off_nothing_is_remembered():
    guard, _, _ = _guard(repair=False)
    guard.remember("data", "gen", 1_000)
    assert guard.pending == 0


# Every data type with Redis unreachable (fakeredis and live Redis) ------------------------------

def test_reads_fall_back_to_the_database_and_fill_nothing(world):
    token = world.dataset.session_token(A)
    with unreachable():
        assert world.sessions.authenticate(token).user_id == A
        assert world.profiles.get(USER).username == world.repo.user(USER)["username"]
        assert world.groups.members(GROUP) == set(world.repo.group_members(GROUP))
        assert [m.id for m in world.messages.recent(SMALL_CHAT)] == \
            [row["id"] for row in world.repo.recent_messages(SMALL_CHAT, 100)]
        assert world.presence.online_among([A, B]) == frozenset()
    outcomes = [(r.data_type, r.outcome) for r in world.metrics.log]
    assert {outcome for _, outcome in outcomes} == {"fallback"}
    assert world.redis.dbsize() == 0 or not list(world.redis.scan_iter(match=world.keys.pattern()))


def test_presence_falls_back_to_the_database_for_the_asked_users_only(world):
    naive = PerHeartbeatPresence(world.presence.ctx)
    naive.heartbeat(A)
    with unreachable():
        naive.heartbeat(B)  # reaches the database; the set misses it
        assert naive.online_among([A, B, USER]) == {A, B}
    assert naive.online_among([A, B, USER]) == {A, B}  # the set was completed from the database


def test_heartbeats_while_redis_is_away_reach_the_database_and_the_set_keeps_the_others(world):
    """By design A's presence lives only in Redis: the repair must complete the set, not drop it."""
    world.presence.heartbeat(A)
    with unreachable():
        world.presence.heartbeat(B)  # Redis away: this one goes to the database
        assert world.presence.online_among([A, B, USER]) == {B}  # the database knows only B
    assert world.presence.online_among([A, B, USER]) == {A, B}


def test_writes_reach_the_database_and_no_stale_entry_outlives_the_outage(world):
    world.profiles.get(USER)
    world.groups.members(GROUP)
    world.messages.recent(SMALL_CHAT)
    token = world.sessions.login(USER)
    assert world.sessions.authenticate(token) is not None
    with unreachable():
        world.profiles.update(USER, status_message="written while Redis was away")
        world.groups.remove_member(GROUP, world.repo.group_members(GROUP)[0])
        sent = world.messages.send(SMALL_CHAT, A, "sent while Redis was away")
        assert world.sessions.logout(token) is True
    assert world.guard.pending == 5  # the profile's status copy too
    assert world.guard.state == OPEN or world.guard.breakers  # on a cluster failures spread over its nodes
    world.clock.advance(world.failure_policy.reset_after_ms)  # the next call is the probe
    assert world.profiles.get(USER).status_message == "written while Redis was away"
    assert world.groups.members(GROUP) == set(world.repo.group_members(GROUP))
    assert world.messages.recent(SMALL_CHAT)[0] == sent
    assert world.sessions.authenticate(token) is None
    assert world.guard.pending == 0 and world.guard.stats.repaired == 5
    assert "fallback" not in {r.outcome for r in world.metrics.log[-4:]}


def test_without_repair_the_old_entries_come_back_with_redis(make_world):
    """The seed's 'graceful degradation' stops at the fallback; the cache then serves what was overwritten."""
    world = make_world(failure_policy=FailurePolicy(repair=False))
    before = world.profiles.get(USER).status_message
    with unreachable():
        world.profiles.update(USER, status_message="new")
    assert world.profiles.get(USER).status_message == before != "new"


def test_the_breaker_stops_calling_and_a_probe_brings_the_cache_back(world):
    world.profiles.get(USER)
    with unreachable() as outage:
        for _ in range(10):
            world.profiles.get(USER)
        tried = outage.round_trips
    assert world.guard.state == OPEN and world.guard.stats.refused == 10 - 3
    assert tried >= 3  # three failures (a live client reconnects once per failure) and then nothing
    world.profiles.get(USER)
    assert world.metrics.log[-1].outcome == "fallback"  # still within the pause: no call
    world.clock.advance(world.failure_policy.reset_after_ms)
    world.profiles.get(USER)
    assert world.guard.state == CLOSED and world.metrics.log[-1].outcome == "hit"


def test_a_world_starts_and_serves_while_its_redis_is_down(caplog):
    url = f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=0.2"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        world = World(redis_url=url, dataset="tiny")
    try:
        assert "Redis unavailable at start" in caplog.text
        assert world.profiles.get(USER).username == world.repo.user(USER)["username"]
        assert world.metrics.log[-1].outcome == "fallback"
    finally:
        world.close()


# The patterns with Redis unreachable ------------------------------------------------------------

@pytest.mark.parametrize("name", ["cache-aside", "write-through", "write-behind"])
def test_pattern_writes_reach_the_database_and_reads_see_them_after(world, name):
    pattern = make(name, PatternContext.from_world(world))
    pattern.set(USER, "before")
    WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, claim_idle_ms=0).drain()
    assert pattern.get(USER).value == "before"
    with unreachable():
        version = pattern.set(USER, "during")
        assert world.repo.status(USER) == ("during", version)
        assert pattern.get(USER) == Versioned("during", version)
    assert pattern.get(USER).value == "during"
    later = pattern.set(USER, "after")
    assert later > version
    WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, claim_idle_ms=0).drain()
    assert world.repo.status(USER) == ("after", later)


def test_write_behind_after_an_outage_is_not_overtaken_within_the_same_millisecond(world):
    pattern = make("write-behind", PatternContext.from_world(world))
    for _ in range(5):
        pattern.set(USER, "queued")  # the counter runs ahead of the clock's floor
    with unreachable():
        during = pattern.set(USER, "during")
    after = pattern.set(USER, "after")  # same simulated millisecond as `during`
    WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, claim_idle_ms=0).drain()
    assert after > during and world.repo.status(USER) == ("after", after)


# Redis Cluster ------------------------------------------------------------------------------------

@pytest.mark.parametrize("error", [
    ClusterDownError("CLUSTERDOWN The cluster is down"),
    MasterDownError("MASTERDOWN Link with MASTER is down"),
    TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
    ClusterError("TTL exhausted."),
    SlotNotCoveredError("Slot 42 is not covered by the cluster."),
    ClusterUnreachable("no node of the Redis Cluster answered"),
], ids=lambda error: type(error).__name__)
def test_cluster_errors_meaning_nobody_serves_a_slot_count_as_unavailable(error):
    guard, _, _ = _guard(failure_threshold=1)

    def call():
        raise error

    with pytest.raises(CacheUnavailable):
        _trace(guard).cache(call)
    assert guard.breaker.state == OPEN


def test_a_cross_slot_error_is_a_bug_not_an_outage():
    guard, _, _ = _guard(failure_threshold=1)

    def call():
        raise ClusterCrossSlotError("CROSSSLOT Keys in request don't hash to the same slot")

    with pytest.raises(ClusterCrossSlotError):
        _trace(guard).cache(call)
    assert guard.breaker.state == CLOSED


def test_a_pipeline_reply_saying_a_node_is_down_is_raised():
    """A cluster pipeline with raise_on_error=False returns a dead node's ConnectionError as a reply."""
    class Pipe:
        def __init__(self, replies):
            self.replies = replies

        def execute(self, raise_on_error=True):
            return self.replies

    wrong_type = redis.ResponseError("WRONGTYPE")
    assert execute_keeping_errors(Pipe([1, wrong_type])) == [1, wrong_type]
    with pytest.raises(redis.ConnectionError):
        execute_keeping_errors(Pipe([1, redis.ConnectionError("node 7001 refused")]))


@pytest.mark.live
def test_a_dead_cluster_master_costs_its_slots_a_quick_fallback_until_its_replica_takes_over():
    """A private cluster (the shared one must stay whole): kill the master of one user's slot."""
    with LocalCluster(masters=3, replicas_per_master=1) as lab:
        world = World(lab.url + "?cluster=true", dataset="tiny")
        try:
            users = [row["id"] for row in world.dataset.tables["users"]]
            master = world.redis.get_node_from_key(world.keys.profile(USER).data).port
            other = next(u for u in users if world.redis.get_node_from_key(world.keys.profile(u).data).port != master)
            world.profiles.get_many([USER, other])
            lab.kill(master)
            started = time.monotonic()
            assert world.profiles.get(USER).user_id == USER
            # a fallback, not a wait for the failover (then the read would be a hit or a miss), and no
            # long retries first: the bound is generous, the slow paths take seconds more
            assert world.metrics.log[-1].outcome == "fallback" and time.monotonic() - started < 5
            world.profiles.get(other)
            assert world.metrics.log[-1].outcome == "hit", "the other masters' slots are served as before"
            lab.wait_for_failover(master)
            world.profiles.get(USER)
            assert world.metrics.log[-1].outcome in ("hit", "miss"), "the promoted replica serves the slot"
            assert world.guard.state == CLOSED
        finally:
            world.close()


# A breaker per node on a cluster ---------------------------------------------------------------

def test_call_key_finds_the_key_of_a_script_a_command_and_a_pipeline():
    from whatsapp_cache.resilience import call_key

    client = redis.Redis()  # never connected: only queued
    pipe = client.pipeline(transaction=False)
    pipe.get("wc:user:{u1}:profile")
    assert call_key(pipe.execute, (), {}) == "wc:user:{u1}:profile"
    assert call_key(execute_keeping_errors, (pipe,), {}) == "wc:user:{u1}:profile"
    assert call_key(len, ("HGETALL", "wc:session:{s}"), {}) == "wc:session:{s}"
    assert call_key(len, (), {"keys": ["wc:chat:{c}:recent", "x"]}) == "wc:chat:{c}:recent"
    assert call_key(len, ("PING",), {}) is None


def test_without_a_cluster_there_is_one_breaker_whatever_the_policy():
    guard = CacheGuard(make_redis(BackendConfig(None, None)), SimulatedClock(),
                       FailurePolicy(breaker_per_node=True))
    assert guard.all_breakers() == [guard.breaker] and guard.state == CLOSED


@pytest.mark.live
@pytest.mark.parametrize("per_node, other_outcome", [(True, "hit"), (False, "fallback")])
def test_a_dead_master_opens_its_own_breaker_and_the_others_stay_cached(per_node, other_outcome):
    """One breaker per process sent every slot to the database when one master died (chapter 08's
    failover: a 0.8% hit ratio instead of two thirds); one per node keeps the live masters' slots cached."""
    with LocalCluster(masters=3, replicas_per_master=1) as lab:
        world = World(lab.url + "?cluster=true", dataset="tiny",
                      failure_policy=FailurePolicy(breaker_per_node=per_node))
        try:
            users = [row["id"] for row in world.dataset.tables["users"]]
            node_of = {u: world.redis.get_node_from_key(world.keys.profile(u).data).port for u in users}
            other = next(u for u in users if node_of[u] != node_of[USER])
            world.profiles.get_many([USER, other])
            lab.kill(node_of[USER])
            for _ in range(4):  # enough failures in a row to open a breaker
                world.profiles.get(USER)
            assert world.guard.state == OPEN
            world.profiles.get(other)
            assert world.metrics.log[-1].outcome == other_outcome
            opened = [b.name for b in world.guard.breakers.values() if b.state == OPEN]
            assert [name.rsplit(":", 1)[1] for name in opened] == ([str(node_of[USER])] if per_node else [])
        finally:
            world.close()


def test_unreachable_after_n_lets_n_round_trips_through_then_fails_every_retry(world):
    """Redis dying mid-request: the live client's reconnect-and-retry must fail too, or the fault is hidden."""
    key = f"{world.keys.namespace}:after"
    world.redis.ping()
    with unreachable(after=1) as outage:
        assert world.redis.get(key) is None
        with pytest.raises(redis.ConnectionError):
            world.redis.set(key, "x")
    assert outage.fired and world.redis.get(key) is None
    with pytest.raises(InvalidInput):
        with unreachable(after=-1):
            pass


def test_retry_policy_asks_the_client_for_its_worst_case_waits():
    import redis

    from whatsapp_cache.backends import make_redis, retry_policy
    from whatsapp_cache.config import BackendConfig

    default = retry_policy(redis.Redis())  # no connection is made
    assert (default.retries, default.backoff) == (10, "ExponentialWithJitterBackoff")
    assert default.worst_waits_s == (0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1, 1, 1, 1)  # min(1 s, 0.01 s x 2^n)
    assert round(default.worst_total_s, 2) == 5.26
    ours = retry_policy(make_redis(BackendConfig("redis://127.0.0.1:6379/0"), timeout_s=0.5, fail_fast=True))
    assert (ours.retries, ours.backoff, ours.worst_waits_s) == (1, "NoBackoff", ())
    import redis.backoff
    import redis.retry
    assert redis.retry.sleep.__module__ == "time" and redis.backoff.random.__name__ == "random"  # put back
