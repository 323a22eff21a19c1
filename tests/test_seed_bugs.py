"""The seed's bugs, numbered by the tests below, each shown happening in the seed's code and not in the library.

Each pair is named test_bugNN_<problem>_naive_<bad outcome> / test_bugNN_<problem>_library_<good outcome>;
the naive side is `whatsapp_cache.experiments.naive.NaiveSeedCache`, the seed's JavaScript ported line by line.
The seed's keys live outside the library's namespace, so the `naive` fixture removes them itself.
"""

import pytest
import redis

from support import (BIG_CHAT, BIG_CHAT_USERS, EMPTY_CHAT, EMPTY_CHAT_USERS, GROUP, HOUR, MINUTE, OUTSIDER,
                     SMALL_CHAT, SMALL_CHAT_USERS, counts, db_ids, dump_keyspace, ids, incomplete_entries,
                     keys_without_ttl)

from whatsapp_cache import NotFound
from whatsapp_cache.datatypes import Presence
from whatsapp_cache.datatypes.messages import RECENT_LIMIT
from whatsapp_cache.datatypes.presence import CLEANUP_INTERVAL_MS
from whatsapp_cache.experiments.faults import fail_on_round_trip
from whatsapp_cache.experiments.inspection import watch_commands
from whatsapp_cache.experiments.naive import NaiveSeedCache

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")

NAIVE_KEY_PATTERNS = ("chat:*", "user:*", "session:*", "group:*", "online_users")
A, B = SMALL_CHAT_USERS


class CrashOnNthCommand:
    """A proxy around a Redis client: the Nth command raises ConnectionError before it is sent,
    like an app server dying between two calls. It also records the commands' names."""

    def __init__(self, client, crash_on: int | None = None):
        self._client = client
        self.crash_on = crash_on
        self.commands: list[str] = []

    def __getattr__(self, name):
        command = getattr(self._client, name)
        if not callable(command):
            return command

        def call(*args, **kwargs):
            self.commands.append(name)
            if len(self.commands) == self.crash_on:
                raise redis.ConnectionError(f"simulated crash before command {len(self.commands)} ({name})")
            return command(*args, **kwargs)

        return call


def _clear_naive_keys(client) -> None:
    for pattern in NAIVE_KEY_PATTERNS:
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)


@pytest.fixture
def naive(world):
    _clear_naive_keys(world.redis)
    yield NaiveSeedCache(world.redis, world.repo, world.clock.now_ms)
    _clear_naive_keys(world.redis)


def naive_ids(messages) -> list[int]:
    return [m["id"] for m in messages]


def newest_first(message_ids) -> bool:
    return all(a > b for a, b in zip(message_ids, message_ids[1:]))


# Bug 1: partial collections -------------------------------------------------------------------

def test_bug01_partial_list_naive_send_after_expiry_caches_a_one_message_history(world, naive):
    naive.get_recent_messages(*BIG_CHAT_USERS)
    world.redis.delete("chat:{}:{}".format(*BIG_CHAT_USERS))  # the 1 h TTL ran out
    naive.send_message(*BIG_CHAT_USERS, "hello again")
    history = naive.get_recent_messages(*BIG_CHAT_USERS)
    assert len(history) == 1, "a one-element list is taken for the whole history"
    assert world.repo.message_count(BIG_CHAT) == 121


def test_bug01_partial_list_library_send_after_expiry_keeps_the_full_history(world):
    world.messages.recent(BIG_CHAT)
    world.clock.advance(HOUR)
    sent = world.messages.send(BIG_CHAT, BIG_CHAT_USERS[0], "hello again")
    history = world.messages.recent(BIG_CHAT)
    assert len(history) == RECENT_LIMIT and history[0] == sent
    assert ids(history) == db_ids(world, BIG_CHAT)


def test_bug01_partial_set_naive_add_after_expiry_leaves_a_one_member_group(world, naive):
    naive.get_group_members(GROUP)
    world.redis.delete(f"group:{GROUP}:members")  # the 6 h TTL ran out
    naive.add_member_to_group(GROUP, OUTSIDER)
    assert naive.get_group_members(GROUP) == [OUTSIDER]
    assert len(world.repo.group_members(GROUP)) == 15


def test_bug01_partial_set_library_add_after_expiry_keeps_every_member(world):
    world.groups.members(GROUP)
    world.clock.advance(6 * HOUR)
    world.groups.add_member(GROUP, OUTSIDER)
    members = world.groups.members(GROUP)
    assert len(members) == 15 and members == set(world.repo.group_members(GROUP))


# Bug 2: direction-dependent chat key ------------------------------------------------------------

def test_bug02_chat_key_naive_reply_is_missing_from_the_senders_view(world, naive):
    naive.get_recent_messages(A, B)
    reply = naive.send_message(B, A, "reply from B")
    assert reply["id"] not in naive_ids(naive.get_recent_messages(A, B))
    assert world.redis.exists(f"chat:{A}:{B}") and world.redis.exists(f"chat:{B}:{A}")


def test_bug02_chat_key_library_both_directions_share_one_list(world):
    world.messages.recent(world.messages.conversation_between(A, B))
    reply = world.messages.send(world.messages.conversation_between(B, A), B, "reply from B")
    assert world.messages.recent(world.messages.conversation_between(A, B))[0] == reply
    chats = [k for k in world.redis.scan_iter(match="wc:chat:*") if not k.endswith(":gen")]
    assert chats == [world.keys.recent_messages(SMALL_CHAT).data]


# Bug 3: order and duplicates --------------------------------------------------------------------

def test_bug03_order_naive_cached_list_is_oldest_first_and_then_mixed(world, naive):
    from_database = naive_ids(naive.get_recent_messages(A, B))  # a miss: rows as the database gives them
    from_cache = naive_ids(naive.get_recent_messages(A, B))
    assert newest_first(from_database) and from_cache == from_database[::-1]
    naive.send_message(A, B, "new")
    mixed = naive_ids(naive.get_recent_messages(A, B))
    assert not newest_first(mixed) and mixed != sorted(mixed)


def test_bug03_order_library_list_is_newest_first_after_fill_and_after_sends(world):
    assert ids(world.messages.recent(SMALL_CHAT)) == db_ids(world, SMALL_CHAT)
    cached = ids(world.messages.recent(SMALL_CHAT))
    world.messages.send(SMALL_CHAT, A, "new")
    after = ids(world.messages.recent(SMALL_CHAT))
    assert newest_first(cached) and newest_first(after) and after == db_ids(world, SMALL_CHAT)


def test_bug03_duplicates_naive_fill_racing_a_send_stores_the_message_twice(world, naive, monkeypatch):
    insert = world.repo.insert_message

    def reader_fills_between_insert_and_push(*args):
        row = insert(*args)
        naive.get_recent_messages(A, B)  # a reader misses and fills from the database
        return row

    monkeypatch.setattr(world.repo, "insert_message", reader_fills_between_insert_and_push)
    sent = naive.send_message(A, B, "raced")
    assert naive_ids(naive.get_recent_messages(A, B)).count(sent["id"]) == 2


def test_bug03_duplicates_library_fill_racing_a_send_stores_the_message_once(world, monkeypatch):
    push = world.scripts.push_message

    def reader_fills_between_insert_and_push(*args, **kwargs):
        world.messages.recent(SMALL_CHAT)
        return push(*args, **kwargs)

    monkeypatch.setattr(world.scripts, "push_message", reader_fills_between_insert_and_push)
    sent = world.messages.send(SMALL_CHAT, A, "raced")
    assert ids(world.messages.recent(SMALL_CHAT)).count(sent.id) == 1


# Bug 5: write and expire as separate calls ------------------------------------------------------

def test_bug05_ttl_naive_crash_between_hset_and_expire_leaves_a_key_that_never_expires(world):
    proxy = CrashOnNthCommand(world.redis, crash_on=3)  # HGETALL, HSET, *crash*, EXPIRE
    naive = NaiveSeedCache(proxy, world.repo, world.clock.now_ms)
    _clear_naive_keys(world.redis)
    try:
        with pytest.raises(redis.ConnectionError):
            naive.get_user_profile("u000001")
        assert proxy.commands == ["hgetall", "hset", "expire"]
        assert world.redis.exists("user:u000001") and world.redis.pttl("user:u000001") == -1
    finally:
        _clear_naive_keys(world.redis)


def test_bug05_ttl_naive_crash_before_expire_in_send_leaves_a_chat_list_without_ttl(world):
    proxy = CrashOnNthCommand(world.redis, crash_on=3)  # LPUSH, LTRIM, *crash*, EXPIRE
    naive = NaiveSeedCache(proxy, world.repo, world.clock.now_ms)
    _clear_naive_keys(world.redis)
    try:
        with pytest.raises(redis.ConnectionError):
            naive.send_message(A, B, "hi")
        assert world.redis.pttl(f"chat:{A}:{B}") == -1
    finally:
        _clear_naive_keys(world.redis)


def mixed_workload(world) -> None:
    """Every write and read path of every data type, including negative answers."""
    token = world.sessions.login("u000001")
    world.sessions.authenticate(token)
    world.sessions.authenticate(world.dataset.session_token("u000002"))
    world.sessions.authenticate("an-unknown-token-0123456789")
    world.sessions.logout(world.sessions.login("u000003"))
    for user in ("u000001", "u000002", "u000003"):
        world.presence.heartbeat(user)
    world.presence.online_among(["u000001", "u000004"])
    world.presence.cleanup()
    world.profiles.get("u000001")
    world.profiles.update("u000002", status_message="Busy")
    world.profiles.get("u000002")
    world.profiles.create("u999999", "New", "+15550000000")
    for unknown in (lambda: world.profiles.get("nobody"), lambda: world.groups.members("gnone"),
                    lambda: world.messages.recent("dm.u000000.u000005")):
        with pytest.raises(NotFound):
            unknown()
    world.messages.recent(SMALL_CHAT)
    world.messages.send(SMALL_CHAT, A, "mixed")
    world.messages.send(BIG_CHAT, BIG_CHAT_USERS[0], "not cached")
    world.messages.recent(EMPTY_CHAT)
    world.messages.conversation_between("u000000", "u000005")
    world.groups.members(GROUP)
    world.groups.add_member(GROUP, OUTSIDER)
    world.groups.remove_member(GROUP, "u000000")
    world.groups.create("gempty", "Empty")
    world.groups.members("gempty")


def test_bug05_ttl_library_every_key_it_writes_has_a_ttl(world):
    mixed_workload(world)
    keys = list(world.redis.scan_iter())
    assert len(keys) > 20 and all(k.startswith("wc:") for k in keys)
    assert keys_without_ttl(world.redis) == []
    assert incomplete_entries(world) == []


CRASHING_STEPS = {
    "profile miss": (lambda w: None, lambda w: w.profiles.get("u000001")),
    "profile update": (lambda w: w.profiles.get("u000001"), lambda w: w.profiles.update("u000001", username="X")),
    "send": (lambda w: w.messages.recent(SMALL_CHAT), lambda w: w.messages.send(SMALL_CHAT, A, "crash")),
    "message miss": (lambda w: None, lambda w: w.messages.recent(SMALL_CHAT)),
    "add member": (lambda w: w.groups.members(GROUP), lambda w: w.groups.add_member(GROUP, OUTSIDER)),
    "login": (lambda w: None, lambda w: w.sessions.login("u000001")),
    "heartbeat": (lambda w: None, lambda w: w.presence.heartbeat("u000001")),
}


@pytest.mark.parametrize("step", sorted(CRASHING_STEPS))
def test_bug05_ttl_library_crash_at_any_round_trip_leaves_nothing_partial(world, step):
    """A crash before any round trip leaves no key without TTL or marker; after the caller's retry reads are right."""
    prepare, action = CRASHING_STEPS[step]
    for n in (1, 2, 3):
        world.flush_cache()
        prepare(world)
        with fail_on_round_trip(n) as failure:
            try:
                action(world)
            except redis.ConnectionError:
                crashed = True
            else:
                crashed = False
        assert keys_without_ttl(world.redis) == [], (step, n)
        assert incomplete_entries(world) == [], (step, n)
        if crashed:
            action(world)
        assert world.profiles.get("u000001").username == world.repo.user("u000001")["username"]
        assert ids(world.messages.recent(SMALL_CHAT)) == db_ids(world, SMALL_CHAT)
        assert world.groups.members(GROUP) == set(world.repo.group_members(GROUP))
        if not failure.fired:
            break


# Bug 8: raw token as the key --------------------------------------------------------------------

def test_bug08_token_naive_raw_bearer_token_is_visible_in_the_key_space(world, naive):
    token = world.dataset.session_token("u000003")
    assert naive.is_authenticated(token)["user_id"] == "u000003"
    assert f"session:{token}" in list(world.redis.scan_iter())


def test_bug08_token_library_raw_token_appears_in_no_key_and_no_value(world):
    token = world.dataset.session_token("u000003")
    assert world.sessions.authenticate(token).user_id == "u000003"
    fresh = world.sessions.login("u000004")
    assert world.sessions.authenticate(fresh).user_id == "u000004"
    everything = repr(dump_keyspace(world.redis))
    assert token not in everything and fresh.reveal() not in everything


# Bug 11: no negative caching --------------------------------------------------------------------

def test_bug11_negative_caching_naive_empty_group_costs_a_query_on_every_read(world, naive):
    world.groups.create("gempty", "Empty")
    for _ in range(5):
        assert naive.get_group_members("gempty") == []
    assert naive.db_queries == 5


def test_bug11_negative_caching_library_empty_group_costs_one_query(world):
    world.groups.create("gempty", "Empty")
    world.metrics.reset()
    for _ in range(5):
        assert world.groups.members("gempty") == frozenset()
    assert counts(world, "groups").db_queries == 1


def test_bug11_negative_caching_naive_empty_chat_costs_a_query_on_every_read(world, naive):
    for _ in range(5):
        assert naive.get_recent_messages(*EMPTY_CHAT_USERS) == []
    assert naive.db_queries == 5


def test_bug11_negative_caching_library_empty_chat_costs_one_query(world):
    for _ in range(5):
        assert world.messages.recent(EMPTY_CHAT) == []
    assert counts(world, "messages").db_queries == 1


# Bug 12: presence cleanup on every server -------------------------------------------------------

def test_bug12_presence_naive_every_server_runs_the_cleanup_every_interval(world, naive):
    servers = [CrashOnNthCommand(world.redis) for _ in range(3)]
    caches = [NaiveSeedCache(proxy, world.repo, world.clock.now_ms) for proxy in servers]
    for user in ("u000001", "u000002"):
        naive.user_online(user)
    for _ in range(3):  # three intervals
        world.clock.advance(CLEANUP_INTERVAL_MS)
        for cache in caches:
            cache.cleanup()
    assert [proxy.commands.count("zremrangebyscore") for proxy in servers] == [3, 3, 3]


def test_bug12_presence_library_one_server_per_interval_does_the_cleanup(world):
    servers = [Presence(world.presence.ctx) for _ in range(3)]
    for user in ("u000001", "u000002"):
        world.presence.heartbeat(user)
    done = []
    for _ in range(3):  # three intervals
        world.clock.advance(CLEANUP_INTERVAL_MS)
        done.append(sum(server.cleanup() is not None for server in servers))
    assert done == [1, 1, 1]


def test_bug12_presence_library_asks_only_about_the_contacts(world):
    contacts = ["u000001", "u000002", "u000003"]
    world.presence.heartbeat("u000002")
    world.presence.online_among(contacts)
    with watch_commands(world) as log:
        assert world.presence.online_among(contacts) == {"u000002"}
    assert log.round_trips == 1
    assert [c[0].upper() for c in log.commands] == ["ZMSCORE"]
    assert set(log.commands[0][2:]) <= {*contacts, "~meta"}
    world.clock.advance(5 * MINUTE)
    assert world.presence.online_among(contacts) == frozenset()


@pytest.mark.no_cluster("it disconnects the one connection pool of a single-node client")
def test_a_new_connections_handshake_is_not_counted_as_the_calls_work(world):
    from whatsapp_cache.experiments.inspection import watch_commands

    world.redis.connection_pool.disconnect()  # the next call connects afresh
    with watch_commands(world) as sent:
        world.profiles.get("u000001")
        world.profiles.get("u000001")
    assert sent.handshakes >= 1
    assert [command[0] for command in sent.commands] == ["HGETALL", "SET", "GET", "EVALSHA", "HGETALL"]
    assert sent.round_trips == 4
