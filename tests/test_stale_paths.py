"""No path to a lasting stale value: a vanished generation, write-behind after an eviction,
one row cached twice, and auxiliary keys holding foreign values.

Each scenario is replayed step by step (no threads, no luck) on every backend.
"""

import logging

import pytest

from whatsapp_cache.patterns import PatternContext, WriteBehindWorker, make
from whatsapp_cache.experiments.races import replay

USER = "u000001"
FIXED = ("cache-aside", "write-through", "write-behind")


def _pattern(world, name):
    return make(name, PatternContext.from_world(world))


def _drain(world):
    WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, claim_idle_ms=0).drain()


def _vanish(world, how: str):
    """The generation key disappears: evicted (DEL), or the guard empties the namespace."""
    if how == "evicted":
        world.redis.delete(world.keys.status(USER).generation)
    else:
        world.flush_cache()
    return
    yield


# 4. ABA: the generation read as absent, set by a write, then gone again.

@pytest.mark.parametrize("how", ["evicted", "flushed"])
def test_a_vanished_generation_never_lets_an_old_read_fill(world, how):
    pattern = _pattern(world, "cache-aside")
    pattern.get(USER)
    world.redis.delete(world.keys.status(USER).generation)  # as after a restart: no generation yet
    actors = {"reader": pattern.read(USER), "writer": pattern.write(USER, "new status"),
              "redis": _vanish(world, how)}
    order = [("reader", "GET: a miss, claims the generation"), ("reader", "SELECT: reads the old row"),
             ("writer", "UPDATE: commits a new version"), ("writer", "DEL + new generation"),
             ("redis", f"the generation is {how}"), ("reader", "fill, if its generation is current")]
    timeline, results = replay(world, USER, actors, order)
    assert results["reader"].value != "new status"  # the slow reader answered with what it read...
    assert timeline[-1].cache == "nothing", "...but its fill was refused"
    assert pattern.get(USER).value == "new status"


def test_a_vanished_generation_never_lets_an_old_profile_fill(world, monkeypatch):
    read_user = world.repo.user

    def a_write_and_a_flush_land_meanwhile(user_id):
        row = read_user(user_id)
        world.profiles.update(user_id, status_message="changed meanwhile")
        world.redis.delete(world.keys.profile(user_id).generation)  # evicted under maxmemory
        return row

    world.redis.delete(world.keys.profile(USER).generation)
    monkeypatch.setattr(world.repo, "user", a_write_and_a_flush_land_meanwhile)
    assert world.profiles.get(USER).status_message != "changed meanwhile"
    monkeypatch.undo()
    assert world.profiles.get(USER).status_message == "changed meanwhile", "the old row must not be cached"


# 3. Write-behind: the cached record is gone before the worker applies the write.

@pytest.mark.parametrize("name", FIXED)
@pytest.mark.parametrize("lost", ["record", "record and version counter"])
def test_once_a_write_is_applied_no_read_returns_an_older_value(world, name, lost):
    pattern = _pattern(world, name)
    pattern.get(USER)
    version = pattern.set(USER, "NEW")
    keys = world.keys.status(USER)
    world.redis.delete(keys.data)  # evicted or expired before the worker caught up
    if lost != "record":
        world.redis.delete(world.keys.status_version(USER))
    pattern.get(USER)  # a miss: the database may still hold the old value
    _drain(world)
    assert world.repo.status(USER) == ("NEW", version)
    assert pattern.get(USER) == pattern.get(USER)
    assert pattern.get(USER).value == "NEW", f"{name}: the database says NEW, the cache must not say otherwise"
    assert world.profiles.get(USER).status_message == "NEW"


def test_a_profile_read_while_a_write_behind_write_is_queued_is_not_cached(world):
    world.profiles.get(USER)  # cached before the write
    _pattern(world, "write-behind").set(USER, "queued")
    assert world.profiles.get(USER).status_message != "queued"  # the database lags the queue
    _drain(world)
    assert world.profiles.get(USER).status_message == "queued", "a fill made before the worker applied it"


# 5. One column, cached twice (the profile hash and the pattern lessons' status record).

@pytest.mark.parametrize("name", FIXED)
def test_a_status_write_through_any_pattern_reaches_the_profile(world, name):
    pattern = _pattern(world, name)
    world.profiles.get(USER)
    pattern.get(USER)
    pattern.set(USER, f"via {name}")
    _drain(world)
    assert world.profiles.get(USER).status_message == f"via {name}"


@pytest.mark.parametrize("name", FIXED)
def test_a_profile_update_reaches_every_patterns_status_record(world, name):
    pattern = _pattern(world, name)
    pattern.get(USER)
    world.profiles.get(USER)
    world.profiles.update(USER, status_message="via profiles")
    assert pattern.get(USER).value == "via profiles"


# 8. Auxiliary keys holding values the library did not write.

FOREIGN = {"list": lambda r, k: r.delete(k) + r.rpush(k, "x"), "text": lambda r, k: r.set(k, "not ours")}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_foreign_generation_never_fails_a_request_and_writes_still_drop_the_entry(world, kind, caplog):
    keys = world.keys.profile(USER)
    world.profiles.get(USER)
    FOREIGN[kind](world.redis, keys.generation)
    world.profiles.update(USER, username="Renamed")  # committed: must neither raise nor leave the entry
    assert world.profiles.get(USER).username == "Renamed"
    world.redis.delete(keys.generation, keys.data)
    FOREIGN[kind](world.redis, keys.generation)
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        assert world.profiles.get(USER).username == "Renamed"  # a miss served from the database
    assert ("corrupt cache entry" in caplog.text) == (kind == "list")  # a foreign string is just a token
    assert world.profiles.get(USER).username == "Renamed"


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_group_and_message_writes_survive_a_foreign_generation(world, kind):
    from support import GROUP, OUTSIDER, SMALL_CHAT, SMALL_CHAT_USERS

    world.groups.members(GROUP)
    FOREIGN[kind](world.redis, world.keys.group_members(GROUP).generation)
    assert world.groups.add_member(GROUP, OUTSIDER) is True
    assert OUTSIDER in world.groups.members(GROUP)
    world.messages.recent(SMALL_CHAT)
    FOREIGN[kind](world.redis, world.keys.recent_messages(SMALL_CHAT).generation)
    sent = world.messages.send(SMALL_CHAT, SMALL_CHAT_USERS[0], "still delivered")
    assert world.messages.recent(SMALL_CHAT)[0] == sent


def test_a_foreign_presence_key_is_dropped_and_rebuilt(world, caplog):
    key = world.keys.presence()
    world.redis.set(key, "not a sorted set")
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        world.presence.heartbeat(USER)  # must not raise
        assert world.presence.online_among([USER, "u000002"]) == {USER}
        assert "corrupt cache entry" in caplog.text
    world.redis.delete(key)
    world.redis.rpush(key, "x")  # clobbers the set: presence lived only there, so USER reads offline...
    assert world.presence.online_among([USER]) == frozenset()
    world.presence.heartbeat(USER)  # ...until the next heartbeat
    assert world.presence.online_among([USER]) == {USER}
    world.redis.delete(key)
    world.redis.rpush(key, "x")
    assert world.presence.cleanup() in (0, None)


@pytest.mark.parametrize("name", FIXED)
def test_a_foreign_value_where_a_status_record_belongs_is_a_miss(world, name):
    pattern = _pattern(world, name)
    world.redis.hset(world.keys.status(USER).data, "foreign", "hash")
    assert pattern.get(USER).value == world.repo.status(USER)[0]
    version = pattern.set(USER, "after the foreign value")
    _drain(world)
    assert pattern.get(USER) == pattern.get(USER) and pattern.get(USER).version == version


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_write_behind_survives_a_foreign_version_counter_and_stream(world, kind):
    from whatsapp_cache.patterns.write_behind import ensure_group

    pattern = _pattern(world, "write-behind")
    FOREIGN[kind](world.redis, world.keys.status_version(USER))
    floor = world.clock.now_ms() * 1000
    first = pattern.set(USER, "counter was foreign")
    assert first > floor  # restarted from the clock's floor
    _drain(world)
    assert world.repo.status(USER) == ("counter was foreign", first)
    if pattern.two_steps:
        return  # on a cluster the stream is written by a plain XADD (see write_behind.py)
    stream = world.keys.write_behind_stream()
    world.redis.delete(stream)
    FOREIGN[kind](world.redis, stream)
    later = pattern.set(USER, "stream was foreign")
    assert world.redis.type(stream) == "stream" and later > first
    ensure_group(world.redis, stream)  # the foreign key took the group with it
    _drain(world)
    assert world.repo.status(USER) == ("stream was foreign", later)
    assert pattern.get(USER).value == "stream was foreign"
