"""Profiles.get_many: every profile in three round trips and one query at most, counted on the wire."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from support import counts

from whatsapp_cache import InvalidInput, NotFound, World
from whatsapp_cache.backends import is_cluster
from whatsapp_cache.codec import META_FIELD
from whatsapp_cache.datatypes.profiles import MAX_BATCH
from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.experiments.wire import count_round_trips

IDS = [f"u{n:06d}" for n in range(1, 11)]
UNKNOWN = "nobody"


def _writes(world, user_ids) -> int:
    """Writes one pipeline over these users' keys takes: one per master holding some (one on one Redis)."""
    if not is_cluster(world.redis):
        return 1
    return len({world.redis.get_node_from_key(world.keys.profile(u).data).name for u in user_ids})


def test_equals_one_get_per_id(world):
    batch = world.profiles.get_many([*IDS, UNKNOWN])
    assert batch == {user_id: world.profiles.get(user_id) for user_id in IDS}
    assert {user_id: p.username for user_id, p in batch.items()} == \
        {user_id: world.repo.user(user_id)["username"] for user_id in IDS}


def test_misses_cost_three_round_trips_and_one_query_then_hits_cost_one(world):
    with count_round_trips(world.redis) as first:
        world.profiles.get_many([*IDS, UNKNOWN])
    c = counts(world, "profiles")
    writes = _writes(world, [*IDS, UNKNOWN])  # a cluster pipeline writes to every master it touches at once
    assert (c.misses, c.hits, c.db_queries, c.round_trips, first.round_trips) == (11, 0, 1, 3, 3 * writes)
    with count_round_trips(world.redis) as second:
        world.profiles.get_many([*IDS, UNKNOWN])
    c = counts(world, "profiles")
    assert (c.misses, c.hits, c.db_queries, c.round_trips, second.round_trips) == (11, 11, 1, 4, writes)


def test_one_request_per_distinct_id_and_the_first_carries_the_cost(world):
    world.profiles.get_many([IDS[0], IDS[1], IDS[0]])
    records = [r for r in world.metrics.log if r.operation == "get_many"]
    assert [(r.outcome, r.round_trips, r.db_queries) for r in records] == [("miss", 3, 1), ("miss", 0, 0)]


def test_only_the_misses_are_queried_and_filled(world, monkeypatch):
    world.profiles.get_many(IDS[:4])
    asked = []
    users = world.repo.users
    monkeypatch.setattr(world.repo, "users", lambda ids: asked.append(list(ids)) or users(ids))
    with count_round_trips(world.redis, world.scripts.names()) as wire_count:
        world.profiles.get_many(IDS)
    assert asked == [IDS[4:]]
    fills = [trip for trip in wire_count.trips if trip[0] == "EVALSHA <fill>"]
    assert (len(fills), sum(map(len, fills))) == (_writes(world, IDS[4:]), 6)
    assert all(set(trip) == {"EVALSHA <fill>"} for trip in fills)
    assert [r.outcome for r in world.metrics.log[-10:]] == ["hit"] * 4 + ["miss"] * 6


def test_all_hits_need_no_generations_and_no_query(world):
    world.profiles.get_many(IDS)
    with count_round_trips(world.redis) as wire_count:
        world.profiles.get_many(IDS)
    assert (len(wire_count.trips), sum(map(len, wire_count.trips))) == (_writes(world, IDS), len(IDS))
    assert {name for trip in wire_count.trips for name in trip} == {"HGETALL"}
    assert counts(world, "profiles").db_queries == 1


def test_unknown_ids_are_left_out_and_cached_as_not_found(world):
    assert world.profiles.get_many([UNKNOWN, "ghost"]) == {}
    before = counts(world, "profiles").db_queries
    with pytest.raises(NotFound):
        world.profiles.get(UNKNOWN)
    assert world.profiles.get_many(["ghost"]) == {}
    assert counts(world, "profiles").db_queries == before, "both answered by the negative cache"


def test_creating_a_user_drops_the_cached_not_found(world):
    world.profiles.get_many([UNKNOWN])
    world.profiles.create(UNKNOWN, "Newcomer", "+15550009999")
    assert world.profiles.get_many([UNKNOWN])[UNKNOWN].username == "Newcomer"


def test_entries_are_the_ones_get_writes(world):
    key = world.keys.profile(IDS[0]).data
    world.profiles.get_many(IDS[:1])
    batched = world.redis.hgetall(key)
    world.redis.delete(key)
    world.profiles.get(IDS[0])
    single = world.redis.hgetall(key)
    assert {k: v for k, v in batched.items() if k != META_FIELD} == {k: v for k, v in single.items() if k != META_FIELD}
    assert 0 < world.redis.pttl(key) <= world.ttls.ms("profiles") * 1.2


def test_an_empty_list_asks_nothing(world):
    with count_round_trips(world.redis) as wire_count:
        assert world.profiles.get_many([]) == {}
    assert wire_count.round_trips == 0 and world.metrics.log == []


@pytest.mark.parametrize("bad", ["u000001", {"u000001"}, None, 7, ["u000001", 7], ["no spaces"], [""],
                                 ["u000001"] * (MAX_BATCH + 1)])
def test_bad_input_is_refused_before_anything_is_asked(world, bad):
    with count_round_trips(world.redis) as wire_count, pytest.raises(InvalidInput):
        world.profiles.get_many(bad)
    assert wire_count.round_trips == 0 and world.metrics.log == []


def test_a_tuple_and_the_limit_itself_are_accepted(world):
    assert len(world.profiles.get_many(tuple(IDS))) == len(IDS)
    assert len(world.profiles.get_many([f"x{n}" for n in range(MAX_BATCH)])) == 0


def test_redis_unavailable_falls_back_to_one_query_and_fills_nothing(world):
    with unreachable():
        batch = world.profiles.get_many([*IDS, UNKNOWN])
    assert not list(world.redis.scan_iter(match=world.keys.pattern()))
    fallbacks = world.metrics.log[:11]
    assert {r.outcome for r in fallbacks} == {"fallback"} and sum(r.db_queries for r in fallbacks) == 1
    assert batch == {user_id: world.profiles.get(user_id) for user_id in IDS}


def test_redis_lost_after_the_read_serves_the_misses_and_fills_nothing(world, monkeypatch):
    """Like get(): the generation read fails, so the answer comes from the database unfilled.

    (Not fail_on_round_trip: the live client reconnects once after a broken connection.)
    """
    outage, read = ExitStack(), world.profiles._read_many
    monkeypatch.setattr(world.profiles, "_read_many",
                        lambda trace, keys: (read(trace, keys), outage.enter_context(unreachable()))[0])
    with outage:
        batch = world.profiles.get_many(IDS[:3])
    assert set(batch) == set(IDS[:3])
    assert [r.outcome for r in world.metrics.log] == ["miss"] * 3
    assert not list(world.redis.scan_iter(match=world.keys.pattern()))


def test_a_key_of_another_type_reads_as_a_miss_and_is_replaced(world):
    key = world.keys.profile(IDS[0]).data
    world.redis.set(key, "not a hash")
    assert world.profiles.get_many(IDS[:2])[IDS[0]] == world.profiles.get(IDS[0])
    assert world.redis.type(key) == "hash"


def test_a_write_between_the_generation_read_and_the_fill_prevents_the_stale_fill(world, monkeypatch):
    """Reader reads generations and rows, a writer updates one user, the reader's fill of it is refused."""
    users = world.repo.users

    def rows_then_a_write(ids):
        rows = users(ids)
        monkeypatch.setattr(world.repo, "users", users)
        world.profiles.update(IDS[0], username="After")
        return rows

    monkeypatch.setattr(world.repo, "users", rows_then_a_write)
    batch = world.profiles.get_many(IDS[:2])
    assert batch[IDS[0]].username != "After"  # the racing reader saw the old row...
    assert not world.redis.exists(world.keys.profile(IDS[0]).data)  # ...and did not cache it
    assert world.redis.exists(world.keys.profile(IDS[1]).data)  # the other fill went through
    assert world.profiles.get_many(IDS[:1])[IDS[0]].username == "After"


def test_fills_survive_a_server_that_lost_its_scripts():
    """Embedded only: SCRIPT FLUSH would empty the script cache of the whole shared live server."""
    with World(dataset="tiny") as world:
        world.redis.script_flush()
        with count_round_trips(world.redis, world.scripts.names()) as wire_count:
            world.profiles.get_many(IDS[:3])
        assert wire_count.round_trips == 5  # read, generations, NOSCRIPT, SCRIPT LOAD, fills again
        assert wire_count.trips[3] == ("SCRIPT LOAD",)
        with count_round_trips(world.redis) as again:
            world.profiles.get_many(IDS[:3])
        assert again.round_trips == 1 and counts(world, "profiles").hits == 3
