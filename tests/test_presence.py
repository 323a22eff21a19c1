"""Presence: one sorted set of last-seen times, asked about a contact list in one round trip."""

import pytest

from support import MINUTE, SECOND, counts

from whatsapp_cache import NotFound
from whatsapp_cache.datatypes import Presence
from whatsapp_cache.datatypes.presence import CLEANUP_INTERVAL_MS
from whatsapp_cache.experiments.faults import fail_on_round_trip

A, B, C = "u000010", "u000011", "u000012"


def test_heartbeat_makes_a_user_online(world):
    world.presence.heartbeat(A)
    assert world.presence.online_among([A, B]) == {A}
    assert world.presence.is_online(A) and not world.presence.is_online(B)


def test_heartbeat_is_recorded_in_the_database(world):
    world.presence.heartbeat(A)
    assert world.repo.last_seen([A]) == {A: world.clock.now_ms()}


def test_online_among_is_one_round_trip_without_queries(world):
    contacts = [f"u0000{i}" for i in range(20, 40)]
    for user in contacts[:5]:
        world.presence.heartbeat(user)
    world.presence.online_among(contacts)  # may fill the set from the database
    world.metrics.reset()
    assert world.presence.online_among(contacts) == set(contacts[:5])
    c = counts(world, "presence")
    assert (c.hits, c.round_trips, c.db_queries) == (1, 1, 0)


def test_online_window_is_five_minutes(world):
    world.presence.heartbeat(A)
    world.clock.advance(5 * MINUTE - 1)
    assert world.presence.is_online(A)
    world.clock.advance(1)
    assert not world.presence.is_online(A)


def test_online_window_follows_the_presence_ttl(world):
    world.ttls = world.ttls.with_(presence=60)
    world.presence.heartbeat(A)
    world.clock.advance(60 * SECOND)
    assert not world.presence.is_online(A)


def test_new_heartbeat_extends_the_window(world):
    world.presence.heartbeat(A)
    world.clock.advance(4 * MINUTE)
    world.presence.heartbeat(A)
    world.clock.advance(4 * MINUTE)
    assert world.presence.is_online(A)


def test_presence_key_has_a_ttl(world):
    world.presence.heartbeat(A)
    assert 0 < world.redis.pttl(world.keys.presence()) <= 5 * MINUTE


def test_lost_presence_set_is_answered_from_the_database(world):
    world.presence.heartbeat(A)
    world.presence.heartbeat(B)
    world.redis.delete(world.keys.presence())
    world.metrics.reset()
    assert world.presence.online_among([A, B, C]) == {A, B}
    assert world.presence.online_among([A, B, C]) == {A, B}
    c = counts(world, "presence")
    assert (c.misses, c.hits, c.db_queries) == (1, 1, 1)


def test_set_rebuilt_by_heartbeats_alone_is_not_trusted(world):
    """After the set is lost, one heartbeat recreates it with one user: others are still online."""
    world.presence.heartbeat(A)
    world.presence.heartbeat(B)
    world.redis.delete(world.keys.presence())
    world.presence.heartbeat(A)
    assert world.presence.online_among([B]) == {B}


def test_refill_for_one_asker_is_complete_for_every_asker(world):
    world.presence.heartbeat(A)
    world.presence.heartbeat(B)
    world.redis.delete(world.keys.presence())
    assert world.presence.online_among([A]) == {A}
    world.metrics.reset()
    assert world.presence.online_among([B, C]) == {B}
    assert counts(world, "presence").db_queries == 0


def test_redis_lost_between_the_read_and_the_refill_still_answers_from_the_database(world):
    world.presence.heartbeat(A)
    world.redis.delete(world.keys.presence())
    with fail_on_round_trip(2):  # the ZMSCORE answers, the refill does not reach Redis
        assert world.presence.online_among([A, B]) == {A}
    assert world.presence.online_among([A, B]) == {A}


def test_heartbeat_of_an_unknown_user_is_not_found(world):
    with pytest.raises(NotFound):
        world.presence.heartbeat("nobody")
    assert world.presence.online_among(["nobody"]) == frozenset()


def test_empty_contact_list_costs_nothing(world):
    assert world.presence.online_among([]) == frozenset()
    assert counts(world, "presence").round_trips == 0


def test_cleanup_runs_once_per_interval_however_many_servers_call_it(world):
    servers = [Presence(world.presence.ctx) for _ in range(5)]
    for user in (A, B, C):
        world.presence.heartbeat(user)
    world.clock.advance(6 * MINUTE)
    results = [server.cleanup() for server in servers]
    assert sorted(results, key=str) == [3, None, None, None, None]
    assert [server.cleanup() for server in servers] == [None] * 5  # same interval: already done
    world.clock.advance(CLEANUP_INTERVAL_MS)
    assert sum(r is not None for r in (server.cleanup() for server in servers)) == 1


def test_cleanup_removes_only_users_outside_the_window(world):
    world.presence.heartbeat(A)
    world.clock.advance(4 * MINUTE)
    world.presence.heartbeat(B)
    world.clock.advance(2 * MINUTE)
    assert world.presence.tracked() == 2
    assert world.presence.cleanup() == 1
    assert world.presence.tracked() == 1
    assert world.presence.online_among([A, B]) == {B}


def test_cleanup_lease_keys_expire(world):
    world.presence.cleanup()
    lease = world.keys.presence_cleanup(world.clock.now_ms() // CLEANUP_INTERVAL_MS)
    assert 0 < world.redis.pttl(lease) <= CLEANUP_INTERVAL_MS
