"""Pub/sub invalidation of app servers' local caches (seed Strategy 3).

Several AppServers share one world (Redis + SQL), each with a local cache in front of it.
A write publishes {"v":1,"kind":"profile","id":...}; the others drop their copy when they
poll() (or at once, in thread mode). Pub/sub is fire-and-forget, so a server that was not
listening keeps its stale copy, but never beyond its local safety TTL, and a reconnect
flushes it. The live-only tests kill subscriber connections under concurrent writes, and
let Redis itself send the invalidations (CLIENT TRACKING), which fakeredis cannot do.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid

import pytest
import redis

from support import SECOND

from whatsapp_cache import InvalidInput, NotFound, WhatsAppCacheError
from whatsapp_cache.datatypes import Profile
from whatsapp_cache.db.repository import PROFILE_FIELDS
from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.invalidation import (AppServer, InvalidationBus, TrackingAppServer, decode_message,
                                         encode_message, supports_tracking)
from whatsapp_cache.keys import KeySchema

# What pickle.dumps({"v": 1}) produces (protocol 4), written out: the library imports no pickle
# (the one test that does, in test_eviction_policies.py, pickles cache objects, as cachetools supports).
PICKLED_DICT = b"\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01v\x94K\x01s."
USER = "u000001"
OTHER = "u000002"
TTL_MS = 30 * SECOND
LIVE_ONLY = pytest.mark.parametrize("backend", [pytest.param("live", marks=pytest.mark.live)], indirect=True)


@pytest.fixture
def servers(world):
    """Build AppServers on the test's world; all are stopped and closed afterwards."""
    built = []

    def build(*names, cls=AppServer, **options):
        made = [cls(name, world, **options) for name in names]
        built.extend(made)
        return made

    yield build
    for server in built:
        server.close()


def eventually(check, timeout_s: float = 10.0) -> bool:
    """Call `check` until it is true or `timeout_s` of real time has passed."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def settle(server, quiet_s: float = 0.05) -> int:
    """Poll until no message arrives for `quiet_s` (a live server delivers a moment after PUBLISH)."""
    applied = 0
    for _ in range(50):
        got = server.poll(wait_s=quiet_s)
        if not got:
            return applied
        applied += got
    raise AssertionError(f"{server.name} kept receiving messages")


def keep_tracked_copy(server, user_id: str) -> None:
    """Get a local copy that Redis tracks: after a miss, the server's own fill invalidates the first one."""
    for _ in range(3):
        server.get_profile(user_id)
        if settle(server) == 0 and server.peek(user_id) is not None:
            return
    raise AssertionError(f"{server.name} could not keep a tracked copy of {user_id}")


def in_database(world, user_id: str) -> Profile:
    row = world.repo.user(user_id)
    return Profile(user_id, **{name: row[name] for name in PROFILE_FIELDS})


def unique_namespace() -> str:
    """Pub/sub channels span all Redis databases: a live test gets a channel of its own."""
    return "t" + uuid.uuid4().hex[:12]


# ---- the message and the channel ----------------------------------------------------------

def test_message_is_small_versioned_json():
    assert encode_message("profile", USER) == '{"v":1,"kind":"profile","id":"u000001"}'
    decoded = decode_message(encode_message("profile", USER))
    assert (decoded.kind, decoded.entity_id) == ("profile", USER)
    assert decode_message(b'{"v":1,"kind":"profile","id":"u000001","extra":[1]}').entity_id == USER


def test_channel_comes_from_the_key_schema(world):
    assert KeySchema("chat7").invalidation_channel() == "chat7:invalidate"
    assert InvalidationBus(world.redis, world.keys.invalidation_channel()).channel == "wc:invalidate"


def test_the_json_message_is_what_travels(world):
    listener = world.redis.pubsub()
    listener.subscribe(world.keys.invalidation_channel())
    try:
        assert listener.get_message(timeout=10)["type"] == "subscribe"
        with AppServer("app1", world) as server:
            server.update_profile(USER, status_message="hi")
        message = listener.get_message(timeout=10)
        assert json.loads(message["data"]) == {"v": 1, "kind": "profile", "id": USER}
    finally:
        listener.close()


# ---- both backends: poll mode -----------------------------------------------------------------

def test_a_write_on_one_server_invalidates_the_others(world, servers):
    app1, app2, app3 = servers("app1", "app2", "app3")
    before = in_database(world, USER)
    for server in (app1, app2, app3):
        assert server.get_profile(USER) == before
        assert server.get_profile(USER) == before
    assert (app2.stats.local_misses, app2.stats.local_hits) == (1, 1)

    assert app1.update_profile(USER, status_message="moved to Lisbon") == 3, "three subscribers got it"
    assert app1.peek(USER) is None, "the writer drops its own copy at once"
    assert app2.peek(USER) == before, "until it polls, app2 still holds the old copy"
    for server in (app2, app3):
        assert settle(server) == 1
        assert server.peek(USER) is None
        assert (server.stats.invalidations, server.stats.dropped) == (1, 1)
        assert server.get_profile(USER).status_message == "moved to Lisbon"
        assert server.stats.local_misses == 2
    assert app3.get_profile(OTHER) == in_database(world, OTHER)


def test_without_a_publish_the_stale_copy_lives_until_the_safety_ttl(world, servers):
    listening, deaf = servers("listening", "deaf", local_ttl_ms=TTL_MS)
    old = listening.get_profile(USER)
    assert deaf.get_profile(USER) == old
    world.profiles.update(USER, status_message="written without a PUBLISH")
    assert settle(listening) == settle(deaf) == 0
    world.clock.advance(TTL_MS - 1)
    assert listening.get_profile(USER) == deaf.get_profile(USER) == old, "both serve the stale copy"

    world.clock.advance(1)
    assert deaf.get_profile(USER).status_message == "written without a PUBLISH", "the safety TTL ended it"

    # The same servers with a publishing write: the stale copy is gone as soon as they poll.
    listening.get_profile(USER)
    deaf.get_profile(USER)
    world.profiles.update(USER, status_message="second write")
    receivers = listening.bus.publish("profile", USER)
    assert receivers == 2
    assert settle(listening) == settle(deaf) == 1
    assert listening.get_profile(USER).status_message == deaf.get_profile(USER).status_message == "second write"


def test_a_disconnected_server_serves_stale_but_never_beyond_its_local_ttl(world, servers):
    writer, away = servers("writer", "away", local_ttl_ms=TTL_MS)
    old = away.get_profile(USER)
    away.disconnect()
    assert not away.connected and away.subscriber_id is None
    assert writer.update_profile(USER, status_message="while you were away") == 1, "only the writer listened"
    assert away.poll(wait_s=0.05) == 0
    world.clock.advance(TTL_MS - 1)
    assert away.get_profile(USER) == old, "missed the message: stale"
    world.clock.advance(1)
    assert away.get_profile(USER).status_message == "while you were away"
    assert away.stats.invalidations == 0


def test_reconnect_resubscribes_and_flushes(world, servers):
    writer, away = servers("writer", "away")
    away.get_profile(USER)
    away.get_profile(OTHER)
    away.disconnect()
    writer.update_profile(USER, status_message="missed")
    away.reconnect()
    assert away.connected and len(away.local) == 0
    assert (away.stats.flushes, away.stats.reconnects) == (1, 1)
    assert away.get_profile(USER).status_message == "missed"

    assert writer.update_profile(USER, status_message="heard") == 2, "subscribed again"
    assert settle(away) == 1 and away.peek(USER) is None


def test_malformed_messages_are_ignored_and_logged(world, servers, caplog):
    (server,) = servers("app1")
    server.get_profile(USER)
    garbage = ["not json", "{}", "[1, 2]", '"profile"', "[" * 900, "x" * 5000,
               '{"v":2,"kind":"profile","id":"u000001"}', '{"v":true,"kind":"profile","id":"u000001"}',
               '{"v":1,"kind":"group","id":"g00002"}', '{"v":1,"kind":["profile"],"id":"u000001"}',
               '{"v":1,"kind":"profile"}', '{"v":1,"kind":"profile","id":"wc:*"}',
               PICKLED_DICT, b"\xff\xfe"]
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        for payload in garbage:
            world.redis.publish(server.channel, payload)
        world.redis.publish(server.channel, encode_message("profile", USER))
        assert eventually(lambda: server.poll(wait_s=0.05) >= 0 and server.stats.invalidations == 1)
    assert server.stats.ignored == len(garbage)
    assert server.peek(USER) is None, "the valid message after the garbage was still applied"
    warnings = [r for r in caplog.records if r.name == "whatsapp_cache" and "malformed" in r.getMessage()]
    assert len(warnings) == len(garbage)
    assert server.connected


@pytest.mark.parametrize("mode", ["poll", "thread"])
def test_an_invalidation_during_a_fetch_keeps_the_old_value_out(world, servers, monkeypatch, mode):
    """The race every invalidation scheme has: read the old value, invalidation applied, store the old value."""
    writer, reader = servers("writer", "reader")
    if mode == "thread":
        reader.start()
    real_get = world.profiles.get
    calls = []

    def get_then_write(user_id):
        profile = real_get(user_id)          # the reader has the old value in hand...
        if not calls:
            calls.append(user_id)
            writer.update_profile(user_id, status_message="written mid-fetch")
            if mode == "poll":               # ...when the invalidation is applied
                assert settle(reader) == 1
            else:
                assert eventually(lambda: reader.stats.invalidations == 1)
        return profile

    monkeypatch.setattr(world.profiles, "get", get_then_write)
    assert reader.get_profile(USER).status_message != "written mid-fetch"
    assert reader.peek(USER) is None, "a fetch overlapped by an invalidation is not kept"
    assert reader.get_profile(USER).status_message == "written mid-fetch"
    assert reader.peek(USER) is not None


def test_a_failed_write_publishes_nothing(world, servers):
    writer, reader = servers("writer", "reader")
    with pytest.raises(NotFound):
        writer.update_profile("u999999", status_message="nobody")
    with pytest.raises(InvalidInput):
        writer.update_profile(USER, nickname="x")
    assert settle(reader) == 0


def test_with_redis_down_a_server_starts_and_its_write_is_stored_not_raised(make_world):
    """Degrade as World does. The UPDATE committed, so the write must not fail
    because PUBLISH could not be sent; a server built meanwhile subscribes once Redis answers."""
    world = make_world(namespace=unique_namespace())
    with AppServer("early", world) as early:
        early.get_profile(USER)
        with unreachable():
            with AppServer("late", world) as late:
                assert not late.connected and late.stats.errors == 1
                assert early.update_profile(USER, status_message="written while Redis was down") == 0
                assert late.update_profile(OTHER, status_message="also written") == 0
                assert early.peek(USER) is None, "the writer dropped its own copy"
            assert world.repo.user(USER)["status_message"] == "written while Redis was down"
            assert world.repo.user(OTHER)["status_message"] == "also written"
        with AppServer("later", world) as later:
            assert later.poll() == 0 and later.connected
            assert later.get_profile(USER).status_message == "written while Redis was down"
            assert later.get_profile(OTHER).status_message == "also written"


# ---- both backends: thread mode -------------------------------------------------------------

def test_thread_mode_applies_invalidations_without_poll(world, servers):
    writer, reader = servers("writer", "reader")
    reader.start()
    assert reader.running
    with pytest.raises(WhatsAppCacheError):
        reader.start()
    reader.get_profile(USER)
    writer.update_profile(USER, status_message="pushed")
    assert eventually(lambda: reader.peek(USER) is None)

    reader.disconnect()
    reader.get_profile(USER)
    writer.update_profile(USER, status_message="lost")
    time.sleep(0.1)  # long enough for a running listener to have applied it
    assert reader.peek(USER).status_message == "pushed", "disconnected: the message is lost"
    reader.reconnect()
    assert reader.peek(USER) is None and reader.stats.flushes == 1
    reader.get_profile(USER)
    writer.update_profile(USER, status_message="heard again")
    assert eventually(lambda: reader.peek(USER) is None)
    reader.stop()
    assert not reader.running


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{"local_ttl_ms": 0}, {"local_ttl_ms": -5}, {"local_ttl_ms": True},
                                     {"local_ttl_ms": "30000"}, {"local_ttl_ms": 1.5}, {"maxsize": 0}])
def test_bad_server_options_are_invalid_input(world, options):
    with pytest.raises(InvalidInput):
        AppServer("app1", world, **options)


@pytest.mark.parametrize("name", ["", "app 1", "app:1", None, 7, "a" * 65])
def test_bad_server_names_are_invalid_input(world, name):
    with pytest.raises(InvalidInput):
        AppServer(name, world)


def test_bad_calls_are_invalid_input(world, servers):
    (server,) = servers("app1")
    for bad in (None, "", "u 1", "wc:*", 7):
        with pytest.raises(InvalidInput):
            server.get_profile(bad)
        with pytest.raises(InvalidInput):
            server.peek(bad)
        with pytest.raises(InvalidInput):
            server.update_profile(bad, status_message="x")
    for bad in (-1, float("nan"), float("inf"), "1", None, True, 61):
        with pytest.raises(InvalidInput):
            server.poll(wait_s=bad)
    with pytest.raises(InvalidInput):
        server.update_profile(USER)
    for kind, entity in (("user", USER), ("profile", "u 1"), ("profile", 7), (None, USER)):
        with pytest.raises(InvalidInput):
            server.bus.publish(kind, entity)
    for channel in ("", None, "a\nb", "c" * 300):
        with pytest.raises(InvalidInput):
            InvalidationBus(world.redis, channel)
    assert isinstance(InvalidInput("x"), ValueError)
    assert server.stats.local_misses == 0


def test_tracking_needs_a_real_redis_server(world, backend):
    if backend.name == "embedded":
        assert supports_tracking(world.redis) is False
        with pytest.raises(WhatsAppCacheError, match="real redis-server"):
            TrackingAppServer("t1", world)
    elif backend.name == "cluster":  # a listener hears only the node it is connected to
        with pytest.raises(WhatsAppCacheError, match="needs one redis-server.*AppServer"):
            TrackingAppServer("t1", world)
    else:
        assert supports_tracking(world.redis) is True
    with pytest.raises(InvalidInput):
        TrackingAppServer("t1", world, bcast="yes")


# ---- live only: killed connections, threads, and Redis' own invalidations ---------------------

@LIVE_ONLY
def test_a_killed_subscriber_loses_a_message_and_flushes_when_it_notices(make_world, live_redis_url):
    world = make_world(namespace=unique_namespace())
    admin = redis.Redis.from_url(live_redis_url)
    with AppServer("writer", world) as writer, AppServer("victim", world) as victim:
        victim.get_profile(USER)
        killed = victim.subscriber_id
        assert admin.client_kill_filter(_id=killed) == 1
        assert writer.update_profile(USER, status_message="lost") == 1, "only the writer still listens"
        assert victim.peek(USER) is not None, "stale until the victim notices"
        victim.poll(wait_s=0.05)
        assert victim.subscriber_id not in (None, killed)
        assert (victim.stats.reconnects, victim.stats.flushes) == (1, 1)
        assert victim.peek(USER) is None
        assert victim.get_profile(USER).status_message == "lost"
        assert writer.update_profile(USER, status_message="heard") == 2
    admin.close()


@LIVE_ONLY
def test_threaded_servers_converge_under_concurrent_writes_and_a_killed_subscriber(make_world, live_redis_url):
    world = make_world(namespace=unique_namespace())
    admin = redis.Redis.from_url(live_redis_url)
    fleet = [AppServer(f"app{n}", world, local_ttl_ms=TTL_MS) for n in range(3)]
    users = [f"u{n:06d}" for n in range(5)]
    failures: list[BaseException] = []
    halfway, all_done = threading.Event(), threading.Event()
    finished = threading.Semaphore(0)

    def workload(n: int, steps: int = 150) -> None:
        """Reads and writes; then reads only, until every thread is done, so the last writes race reads."""
        rng = random.Random(n)
        try:
            for step in range(steps):
                if step == steps // 2:
                    halfway.set()
                user = rng.choice(users)
                if rng.random() < 0.3:
                    fleet[n].update_profile(user, status_message=f"app{n} step {step}")
                else:
                    fleet[n].get_profile(user)
            finished.release()
            while not all_done.is_set():
                fleet[n].get_profile(rng.choice(users))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            finished.release()

    threads = [threading.Thread(target=workload, args=(n,), daemon=True) for n in range(3)]
    try:
        for server in fleet:
            server.start()
        for thread in threads:
            thread.start()
        assert halfway.wait(10)
        victim = fleet[1]
        killed = victim.subscriber_id
        admin.client_kill_filter(_id=killed)
        assert all(finished.acquire(timeout=15) for _ in threads)
        all_done.set()
        for thread in threads:
            thread.join(5)
        assert not any(thread.is_alive() for thread in threads)
        assert failures == []
        assert eventually(lambda: victim.subscriber_id not in (None, killed))
        assert victim.stats.reconnects >= 1 and victim.stats.flushes >= 1

        def consistent() -> bool:
            truth = {user: in_database(world, user) for user in users}
            return all(server.peek(user) in (None, truth[user]) for server in fleet for user in users)

        assert eventually(consistent, 15.0), "a local copy stayed stale after its invalidations arrived"
        for server in fleet:
            for user in users:
                assert server.get_profile(user) == in_database(world, user)
        assert all(server.stats.invalidations > 0 for server in fleet)
        world.clock.advance(TTL_MS)
        assert all(server.peek(user) is None for server in fleet for user in users), "the safety TTL"
    finally:
        all_done.set()
        for server in fleet:
            server.close()
        admin.close()


@LIVE_ONLY
@pytest.mark.parametrize("bcast", [False, True], ids=["default", "bcast"])
def test_tracking_redis_itself_invalidates_the_local_copies(make_world, bcast):
    world = make_world(namespace=unique_namespace())
    with TrackingAppServer("t1", world, bcast=bcast) as reader, TrackingAppServer("t2", world, bcast=bcast) as writer:
        reader.get_profile(USER)                 # a miss: the fill is itself a change to a tracked key...
        assert settle(reader) >= 1 and reader.peek(USER) is None   # ...so Redis invalidates it at once
        keep_tracked_copy(reader, USER)          # a Redis hit: tracked, kept

        writer.update_profile(USER, status_message="no PUBLISH needed")
        assert eventually(lambda: reader.poll(wait_s=0.02) >= 0 and reader.peek(USER) is None)
        assert reader.get_profile(USER).status_message == "no PUBLISH needed"

        keep_tracked_copy(reader, USER)
        world.redis.delete(world.keys.profile(USER).data)   # a change straight to Redis
        assert eventually(lambda: reader.poll(wait_s=0.02) >= 0 and reader.peek(USER) is None)
        assert reader.stats.dropped >= 2 and reader.stats.ignored == 0


@LIVE_ONLY
def test_tracking_flushes_when_a_data_connection_was_dropped(make_world, live_redis_url):
    """Redis forgets what a dropped connection read, so its reconnect must flush the local cache."""
    world = make_world(namespace=unique_namespace())
    admin = redis.Redis.from_url(live_redis_url, decode_responses=True)
    with TrackingAppServer("t1", world) as reader:
        keep_tracked_copy(reader, USER)
        flushes = reader.stats.flushes
        tracked = [c["id"] for c in admin.client_list() if c["redir"] == str(reader.subscriber_id)]
        assert tracked, "the data connections redirect their invalidations to the subscriber"
        for client_id in tracked:
            admin.client_kill_filter(_id=client_id)
        assert reader.peek(USER) is not None, "a local hit cannot notice: the safety TTL covers that gap"
        assert reader.get_profile(OTHER) == in_database(world, OTHER)   # the next Redis read reconnects
        assert reader.stats.flushes > flushes  # one per dropped connection that reconnects (the hit reader holds one)
        assert reader.peek(USER) is None and reader.peek(OTHER) is None
        keep_tracked_copy(reader, USER)
    admin.close()


@LIVE_ONLY
def test_tracking_survives_a_killed_invalidation_connection(make_world, live_redis_url):
    world = make_world(namespace=unique_namespace())
    admin = redis.Redis.from_url(live_redis_url)
    with TrackingAppServer("t1", world) as reader, TrackingAppServer("t2", world) as writer:
        reader.start()
        assert eventually(lambda: reader.get_profile(USER) is not None and reader.peek(USER) is not None)
        killed = reader.subscriber_id
        admin.client_kill_filter(_id=killed)
        assert eventually(lambda: reader.subscriber_id not in (None, killed))
        assert reader.stats.flushes >= 1 and reader.peek(USER) is None

        # the data connections now redirect to the new subscriber: invalidations still arrive
        assert eventually(lambda: reader.get_profile(USER) is not None and reader.peek(USER) is not None)
        writer.update_profile(USER, status_message="after the kill")
        assert eventually(lambda: reader.peek(USER) is None)
        assert reader.get_profile(USER).status_message == "after the kill"
    admin.close()


