"""Presence: one sorted set of last-seen times, asked about a contact list in one round trip.

By design a heartbeat writes only Redis and the database learns last-seen when a user goes
offline (cleanup); PerHeartbeatPresence, the naive design, writes the database every heartbeat.
"""

import pytest

from support import MINUTE, SECOND, counts

from whatsapp_cache import NotFound
from whatsapp_cache.datatypes import PerHeartbeatPresence, Presence
from whatsapp_cache.datatypes.presence import CLEANUP_INTERVAL_MS, SET_TTL_MS
from whatsapp_cache.experiments.faults import fail_on_round_trip

A, B, C = "u000010", "u000011", "u000012"


@pytest.fixture(params=["by design", "per heartbeat"])
def presence(request, world):
    """Either design on the same World: the library's default, or the naive per-heartbeat write."""
    return world.presence if request.param == "by design" else PerHeartbeatPresence(world.presence.ctx)


def test_a_heartbeat_is_one_round_trip_and_no_database_write(world):
    world.presence.heartbeat(A)
    c = counts(world, "presence")
    assert (c.writes, c.round_trips, c.db_queries) == (1, 1, 0)
    assert world.repo.last_seen([A]) == {A: None}, "the database learns last-seen when the user goes offline"


def test_the_naive_heartbeat_writes_the_database_every_time(world):
    naive = PerHeartbeatPresence(world.presence.ctx)
    naive.heartbeat(A)
    world.clock.advance(MINUTE)
    naive.heartbeat(A)
    assert counts(world, "presence").db_queries == 2
    assert world.repo.last_seen([A]) == {A: world.clock.now_ms()}


def test_cleanup_writes_the_last_seen_of_users_who_went_offline_in_one_batch(world):
    world.presence.heartbeat(A)
    world.clock.advance(MINUTE)
    seen_b = world.clock.now_ms()
    world.presence.heartbeat(B)
    world.clock.advance(5 * MINUTE)
    world.presence.heartbeat(C)
    world.metrics.reset()
    assert world.presence.cleanup() == 1  # A: seen more than 5 minutes ago
    assert world.repo.last_seen([A, B, C])[A] is not None and world.presence.tracked() == 2
    assert counts(world, "presence").db_queries == 1
    world.clock.advance(CLEANUP_INTERVAL_MS)
    assert world.presence.cleanup() == 1
    assert world.repo.last_seen([B, C]) == {B: seen_b, C: None}


def test_a_heartbeat_between_cleanups_read_and_removal_keeps_the_user(world, monkeypatch):
    world.presence.heartbeat(A)
    world.clock.advance(6 * MINUTE)
    record = world.repo.record_last_seen

    def a_heartbeat_lands_meanwhile(seen):
        world.presence.heartbeat(A)
        return record(seen)

    monkeypatch.setattr(world.repo, "record_last_seen", a_heartbeat_lands_meanwhile)
    assert world.presence.cleanup() == 0
    assert world.presence.is_online(A)


def test_a_lost_set_counts_users_offline_until_their_next_heartbeat(world):
    """The price of keeping presence in Redis: nothing in the database says they are online."""
    world.presence.heartbeat(A)
    world.redis.delete(world.keys.presence())
    assert world.presence.online_among([A, B]) == frozenset()
    world.presence.heartbeat(A)
    assert world.presence.online_among([A, B]) == {A}


def test_with_redis_down_a_heartbeat_reaches_the_database(world):
    from whatsapp_cache.experiments.faults import unreachable

    with unreachable():
        world.presence.heartbeat(A)
        assert world.presence.online_among([A, B]) == {A}
    assert world.repo.last_seen([A]) == {A: world.clock.now_ms()}


def test_heartbeat_makes_a_user_online(presence):
    presence.heartbeat(A)
    assert presence.online_among([A, B]) == {A}
    assert presence.is_online(A) and not presence.is_online(B)


def test_online_among_is_one_round_trip_without_queries(world):
    contacts = [f"u0000{i}" for i in range(20, 40)]
    for user in contacts[:5]:
        world.presence.heartbeat(user)
    world.presence.online_among(contacts)  # may fill the set from the database
    world.metrics.reset()
    assert world.presence.online_among(contacts) == set(contacts[:5])
    c = counts(world, "presence")
    assert (c.hits, c.round_trips, c.db_queries) == (1, 1, 0)


def test_online_window_is_five_minutes(world, presence):
    presence.heartbeat(A)
    world.clock.advance(5 * MINUTE - 1)
    assert presence.is_online(A)
    world.clock.advance(1)
    assert not presence.is_online(A)


def test_online_window_follows_the_presence_ttl(world):
    world.ttls = world.ttls.with_(presence=60)
    world.presence.heartbeat(A)
    world.clock.advance(60 * SECOND)
    assert not world.presence.is_online(A)


def test_new_heartbeat_extends_the_window(world, presence):
    presence.heartbeat(A)
    world.clock.advance(4 * MINUTE)
    presence.heartbeat(A)
    world.clock.advance(4 * MINUTE)
    assert presence.is_online(A)


def test_presence_key_has_a_ttl(world, presence):
    presence.heartbeat(A)
    assert 0 < world.redis.pttl(world.keys.presence()) <= SET_TTL_MS


def test_naive_lost_presence_set_is_answered_from_the_database(world):
    naive = PerHeartbeatPresence(world.presence.ctx)
    naive.heartbeat(A)
    naive.heartbeat(B)
    world.redis.delete(world.keys.presence())
    world.metrics.reset()
    assert naive.online_among([A, B, C]) == {A, B}
    assert naive.online_among([A, B, C]) == {A, B}
    c = counts(world, "presence")
    assert (c.misses, c.hits, c.db_queries) == (1, 1, 1)


def test_set_rebuilt_by_heartbeats_alone_is_not_trusted(world):
    """After the set is lost, one heartbeat recreates it with one user: others are still online."""
    naive = PerHeartbeatPresence(world.presence.ctx)
    naive.heartbeat(A)
    naive.heartbeat(B)
    world.redis.delete(world.keys.presence())
    naive.heartbeat(A)
    assert naive.online_among([B]) == {B}


def test_refill_for_one_asker_is_complete_for_every_asker(world):
    naive = PerHeartbeatPresence(world.presence.ctx)
    naive.heartbeat(A)
    naive.heartbeat(B)
    world.redis.delete(world.keys.presence())
    assert naive.online_among([A]) == {A}
    world.metrics.reset()
    assert naive.online_among([B, C]) == {B}
    assert counts(world, "presence").db_queries == 0


def test_redis_lost_between_the_read_and_the_refill_still_answers_from_the_database(world):
    naive = PerHeartbeatPresence(world.presence.ctx)
    naive.heartbeat(A)
    world.redis.delete(world.keys.presence())
    with fail_on_round_trip(2):  # the ZMSCORE answers, the refill does not reach Redis
        assert naive.online_among([A, B]) == {A}
    assert naive.online_among([A, B]) == {A}


def test_heartbeat_of_an_unknown_user(world):
    """The naive design asks the database (NotFound); by design the session vouched for the user."""
    with pytest.raises(NotFound):
        PerHeartbeatPresence(world.presence.ctx).heartbeat("nobody")
    world.presence.heartbeat("nobody")
    assert world.presence.online_among(["nobody"]) == {"nobody"}
    world.clock.advance(6 * MINUTE)
    assert world.presence.cleanup() == 1  # its UPDATE changes no row; it is forgotten all the same


def test_empty_contact_list_costs_nothing(world):
    assert world.presence.online_among([]) == frozenset()
    assert counts(world, "presence").round_trips == 0


@pytest.mark.parametrize("design", [Presence, PerHeartbeatPresence], ids=["by design", "per heartbeat"])
def test_cleanup_runs_once_per_interval_however_many_servers_call_it(world, design):
    servers = [design(world.presence.ctx) for _ in range(5)]
    for user in (A, B, C):
        servers[0].heartbeat(user)
    world.clock.advance(6 * MINUTE)
    results = [server.cleanup() for server in servers]
    assert sorted(results, key=str) == [3, None, None, None, None]
    assert [server.cleanup() for server in servers] == [None] * 5  # same interval: already done
    world.clock.advance(CLEANUP_INTERVAL_MS)
    assert sum(r is not None for r in (server.cleanup() for server in servers)) == 1


def test_cleanup_removes_only_users_outside_the_window(world, presence):
    presence.heartbeat(A)
    world.clock.advance(4 * MINUTE)
    presence.heartbeat(B)
    world.clock.advance(2 * MINUTE)
    assert presence.tracked() == 2
    assert presence.cleanup() == 1
    assert presence.tracked() == 1
    assert presence.online_among([A, B]) == {B}


def test_cleanup_lease_keys_expire(world):
    world.presence.cleanup()
    lease = world.keys.presence_cleanup(world.clock.now_ms() // CLEANUP_INTERVAL_MS)
    assert 0 < world.redis.pttl(lease) <= CLEANUP_INTERVAL_MS
