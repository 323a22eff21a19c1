"""Round trips counted on the wire (fakeredis, live Redis, a Redis Cluster), and every claimed count checked."""

from __future__ import annotations

import pytest

from whatsapp_cache.experiments import claims
from whatsapp_cache.backends import is_cluster, make_redis
from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.experiments.claims import CLAIMED_ROUND_TRIPS, FILL_ROW, measure_claims
from whatsapp_cache.experiments.wire import count_round_trips

KEY = "wc:wire-test"


def _pools(client) -> list:
    if is_cluster(client):
        return [node.redis_connection.connection_pool for node in client.get_nodes()]
    return [client.connection_pool]


def test_one_command_is_one_round_trip(world):
    world.redis.ping()
    with count_round_trips(world.redis) as wire_count:
        world.redis.get(KEY)
    assert (wire_count.round_trips, wire_count.commands, wire_count.handshakes) == (1, 1, 0)
    assert wire_count.trips == [("GET",)]


def test_a_pipeline_is_one_round_trip_with_or_without_a_transaction(world):
    for transaction in (False, True):
        pipe = world.redis.pipeline(transaction=transaction)
        pipe.set(KEY, "1")
        pipe.get(KEY)
        pipe.delete(KEY)
        with count_round_trips(world.redis) as wire_count:
            pipe.execute()
        assert wire_count.round_trips == 1
        expected = ("SET", "GET", "DEL")
        assert wire_count.trips == [("MULTI", *expected, "EXEC") if transaction else expected]


@pytest.mark.no_cluster("redis-py's cluster pipelines refuse Script objects; queue_script sends EVAL there")
def test_a_script_call_is_one_round_trip_but_script_objects_in_a_pipeline_are_two(world):
    """redis-py asks SCRIPT EXISTS before a pipeline holding Script objects: why get_many uses EVALSHA."""
    names = world.scripts.names()
    keys = world.keys.profile("u000001")
    script_keys, args = [keys.data, keys.generation], [1000, "~g0000000000000001"]
    with count_round_trips(world.redis, names) as alone:
        world.scripts.invalidate(keys=script_keys, args=args)
    pipe = world.redis.pipeline(transaction=False)
    world.scripts.invalidate(keys=script_keys, args=args, client=pipe)
    with count_round_trips(world.redis, names) as piped:
        pipe.execute()
    assert alone.trips == [("EVALSHA <invalidate>",)]
    assert piped.trips == [("SCRIPT EXISTS",), ("EVALSHA <invalidate>",)]


@pytest.mark.no_cluster("it disconnects the one connection pool of a single-node client")
def test_a_new_connections_handshake_is_counted_apart(world):
    world.redis.connection_pool.disconnect()
    with count_round_trips(world.redis) as wire_count:
        world.redis.get(KEY)
    assert wire_count.round_trips == 1
    assert wire_count.handshakes >= 2, "HELLO and CLIENT SETINFO at least"


def test_only_the_given_clients_writes_count(world, backend):
    other = make_redis(world.config)  # the same server (a fresh FakeServer when embedded)
    try:
        with count_round_trips(world.redis) as wire_count:
            other.get(KEY)
            other.pipeline().get(KEY).execute()
        assert wire_count.round_trips == 0
    finally:
        other.close()


def test_the_client_is_left_as_it_was(world):
    with count_round_trips(world.redis):
        world.redis.get(KEY)
        with count_round_trips(world.redis) as inner:  # nested counters both count
            world.redis.get(KEY)
    assert inner.round_trips == 1
    for pool in _pools(world.redis):  # a cluster client's: one per node
        assert not {"get_connection", "make_connection"} & set(vars(pool))
        assert all("send_packed_command" not in vars(c) for c in pool._available_connections)


def test_nested_counters_count_the_same_writes(world):
    with count_round_trips(world.redis) as outer:
        world.redis.get(KEY)
        with count_round_trips(world.redis) as inner:
            world.redis.get(KEY)
    assert (outer.round_trips, inner.round_trips) == (2, 1)


def test_the_wire_count_is_independent_of_the_trace(world):
    """With Redis unreachable the Trace counts the attempted round trip; nothing reached the wire."""
    with count_round_trips(world.redis) as wire_count, unreachable():
        world.profiles.get("u000001")
    assert wire_count.round_trips == 0
    assert world.metrics.log[-1].round_trips == 1 and world.metrics.log[-1].outcome == "fallback"


def test_every_operation_has_a_claim_and_a_way_to_count_it():
    assert list(CLAIMED_ROUND_TRIPS) == list(claims._OPERATIONS)
    assert all(claim.round_trips >= 1 and claim.covers for claim in CLAIMED_ROUND_TRIPS.values())


def test_the_seeds_named_operations_are_one_round_trip_each():
    for name in (FILL_ROW, "contacts' online status (online_among of a user's contacts)",
                 "group fan-out: recipients (the seed: all members of the group)"):
        assert CLAIMED_ROUND_TRIPS[name].round_trips == 1, name


@pytest.mark.no_cluster("the claims are for one Redis: a cluster pipeline counts one write per master it touches")
def test_every_claim_holds_counted_on_the_wire(world, figures):
    results = measure_claims(world)
    wrong = [f"{m.operation}: claimed {m.claimed}, counted {m.counted} ({m.sent})" for m in results if not m.holds]
    assert not wrong, "\n".join(wrong)
    assert [m.operation for m in results] == list(CLAIMED_ROUND_TRIPS)
    assert all(m.traced in (None, m.counted) for m in results), "the library's Trace agrees with the wire"
    assert all(m.handshakes == 0 for m in results)
    figures(f"{world.config.redis_label}: {len(results)}/{len(results)} operations take the round trips claimed")


def test_the_measured_table_fits_a_laptop_pane():
    from whatsapp_cache.experiments.claims import Measured, format_measured

    long_name = "an operation with a name much longer than the pane allows, " * 2
    row = Measured(long_name, claimed=3, covers="HGETALL; " * 30, counted=4, handshakes=0, traced=None, sent="")
    text = format_measured([row])
    assert max(len(line) for line in text.splitlines()) <= 96
    assert "<-- NOT AS CLAIMED" in text and text.splitlines()[-1] == "0/1 operations take the round trips claimed"
