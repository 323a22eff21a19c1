"""Bad input gets a WhatsAppCacheError (a ValueError) or a miss: never a crash, never lost data."""

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import (GROUP, SMALL_CHAT, SMALL_CHAT_USERS, counts, db_ids, dump_keyspace, ids)

from whatsapp_cache import ConfigError, InvalidInput, NotFound, TTLs, WhatsAppCacheError, World, patterns
from whatsapp_cache.clock import SimulatedClock, SystemClock
from whatsapp_cache.patterns.concurrency import run_steps
from whatsapp_cache.codec import META_FIELD, is_meta
from whatsapp_cache.experiments.faults import fail_on_round_trip, unreachable
from whatsapp_cache.keys import token_digest
from whatsapp_cache.stampede import make_strategy
from whatsapp_cache.validation import ID_PATTERN, MAX_BODY_CHARS

A, B = SMALL_CHAT_USERS
USER = "u000001"
# The world fixture is shared by a property's examples on purpose: state piles up as it would in use.
PROPERTY = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

NOT_STRINGS = [1, None, b"u000001", ["u000001"], 1.5, True, {"id": "u000001"}, object()]
KEY_BREAKING = ["", "u0:1", "u{1}", "u}", "u*", "u?", "u 1", " u000001", "u000001\n", "\n", "ü000001",
                "用户", "a" * 65, "{presence}", "wc:*", "u\x00", "u/1", "u.1", "\u200bu1"]
BAD_IDS = NOT_STRINGS + KEY_BREAKING

ID_TAKING_CALLS = {
    "profiles.get": lambda w, x: w.profiles.get(x),
    "profiles.update": lambda w, x: w.profiles.update(x, username="n"),
    "profiles.create": lambda w, x: w.profiles.create(x, "n", "+1"),
    "sessions.login": lambda w, x: w.sessions.login(x),
    "presence.heartbeat": lambda w, x: w.presence.heartbeat(x),
    "presence.online_among": lambda w, x: w.presence.online_among([USER, x]),
    "messages.conversation_between": lambda w, x: w.messages.conversation_between(x, USER),
    "messages.send sender": lambda w, x: w.messages.send(SMALL_CHAT, x, "hi"),
    "groups.members": lambda w, x: w.groups.members(x),
    "groups.create": lambda w, x: w.groups.create(x, "name"),
    "groups.create member": lambda w, x: w.groups.create("gnew", "name", [USER, x]),
    "groups.add_member group": lambda w, x: w.groups.add_member(x, USER),
    "groups.add_member user": lambda w, x: w.groups.add_member(GROUP, x),
    "groups.remove_member user": lambda w, x: w.groups.remove_member(GROUP, x),
}
BAD_CONVERSATIONS = NOT_STRINGS + ["", "dm.u1", "dm.u1.u2.u3", "dm..u2", "grp.", "grp.g1:x", "grp.g*",
                                   "dm.u1.u2\n", "DM.u1.u2", "chat:u1:u2", "grp.{g1}", "dm.ü.u2",
                                   "dm." + "a" * 65 + ".b"]
BAD_BODIES = ["", " ", "\n\t  ", "\u2003", "x" * (MAX_BODY_CHARS + 1), "hi\x00there", "\ud800", None, 1, b"hi",
              ["hi"]]


@pytest.fixture
def snapshot(world):
    """What the cache and the database hold now, to show a refused call changed neither."""
    def take():
        return dump_keyspace(world.redis), world.repo.row_counts()
    return take


@pytest.mark.parametrize("call", sorted(ID_TAKING_CALLS))
def test_bad_ids_are_invalid_input_and_change_nothing(world, snapshot, call):
    before = snapshot()
    for bad in BAD_IDS:
        with pytest.raises(InvalidInput):
            ID_TAKING_CALLS[call](world, bad)
    assert snapshot() == before


def test_invalid_input_is_a_value_error_of_the_library():
    assert issubclass(InvalidInput, WhatsAppCacheError) and issubclass(WhatsAppCacheError, ValueError)
    assert issubclass(NotFound, WhatsAppCacheError) and issubclass(ConfigError, WhatsAppCacheError)


def test_bad_conversation_ids_are_invalid_input(world, snapshot):
    before = snapshot()
    for bad in BAD_CONVERSATIONS:
        with pytest.raises(InvalidInput):
            world.messages.recent(bad)
        with pytest.raises(InvalidInput):
            world.messages.send(bad, A, "hi")
    assert snapshot() == before


def test_bad_bodies_are_invalid_input_and_store_nothing(world):
    world.messages.recent(SMALL_CHAT)
    before = (world.repo.message_count(SMALL_CHAT), world.redis.lrange(world.keys.recent_messages(SMALL_CHAT).data,
                                                                        0, -1))
    for bad in BAD_BODIES:
        with pytest.raises(InvalidInput):
            world.messages.send(SMALL_CHAT, A, bad)
    after = (world.repo.message_count(SMALL_CHAT), world.redis.lrange(world.keys.recent_messages(SMALL_CHAT).data,
                                                                       0, -1))
    assert after == before


def test_longest_allowed_body_is_stored_whole(world):
    body = "x" * (MAX_BODY_CHARS - 1) + "é"
    sent = world.messages.send(SMALL_CHAT, A, body)
    assert world.messages.recent(SMALL_CHAT, limit=1)[0].body == body == sent.body


def test_unknown_ids_are_not_found(world):
    calls = [lambda: world.profiles.get("nobody"), lambda: world.profiles.update("nobody", username="x"),
             lambda: world.sessions.login("nobody"),
             lambda: world.messages.recent("dm.nobody.u000001"), lambda: world.messages.recent("grp.gnone"),
             lambda: world.messages.send("grp.gnone", USER, "hi"),
             lambda: world.messages.conversation_between("nobody", USER), lambda: world.groups.members("gnone"),
             lambda: world.groups.add_member("gnone", USER), lambda: world.groups.add_member(GROUP, "nobody")]
    for call in calls:
        with pytest.raises(NotFound):
            call()


def test_unknown_ids_that_are_answers_not_errors(world):
    assert world.sessions.authenticate("an-unknown-token-0123456789") is None
    assert world.presence.online_among(["nobody", "u999999"]) == frozenset()
    assert world.sessions.logout("an-unknown-token-0123456789") is False


@pytest.mark.parametrize("bad", [0, -1, 101, "5", 2.0, True, None])
def test_bad_limits_are_invalid_input(world, bad):
    with pytest.raises(InvalidInput):
        world.messages.recent(SMALL_CHAT, limit=bad)


@pytest.mark.parametrize("bad", ["u000001", None, 42, b"u000001", ["u%06d" % i for i in range(10_001)]],
                         ids=["string", "None", "int", "bytes", "too many"])
def test_bad_contact_lists_are_invalid_input(world, bad):
    with pytest.raises(InvalidInput):
        world.presence.online_among(bad)


@pytest.mark.parametrize("changes", [{}, {"email": "a@b"}, {"username": "x" * 65}, {"username": None},
                                     {"phone": 12345}, {"status_message": "\x00"}, {"status_message": "\udc80"}],
                         ids=["nothing", "unknown field", "too long", "None", "int", "NUL", "surrogate"])
def test_bad_profile_changes_are_invalid_input(world, changes):
    before = world.repo.user(USER)
    with pytest.raises(InvalidInput):
        world.profiles.update(USER, **changes)
    assert world.repo.user(USER) == before


@pytest.mark.parametrize("call", [lambda w: w.groups.create("gnew", "x" * 129), lambda w: w.groups.create("gnew", 7),
                                  lambda w: w.groups.create("gnew", "ok", "u000001"),
                                  lambda w: w.sessions.login(USER, device="d" * 65),
                                  lambda w: w.sessions.login(USER, device="\ud800"),
                                  lambda w: w.messages.conversation_between(USER, USER),
                                  lambda w: w.sessions.authenticate(12345), lambda w: w.sessions.authenticate("x" * 513),
                                  lambda w: w.sessions.authenticate("short"),
                                  lambda w: w.sessions.authenticate("tab\tinside-a-long-token")],
                         ids=["long group name", "int group name", "string as member list", "long device",
                              "surrogate device", "chat with oneself", "int token", "long token", "short token",
                              "unprintable token"])
def test_other_bad_arguments_are_invalid_input(world, call):
    with pytest.raises(InvalidInput):
        call(world)


# TTLs, clock, World arguments and URLs ---------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1, 1.5, "60", True, None, 10**20, 366 * 24 * 3600])
def test_bad_ttls_are_invalid_input(bad):
    with pytest.raises(InvalidInput):
        TTLs(profiles=bad)
    with pytest.raises(InvalidInput):
        TTLs().with_(messages=bad)


def test_ttls_of_unknown_types_are_invalid_input(world):
    with pytest.raises(InvalidInput):
        world.ttls.with_(avatars=10)
    with pytest.raises(InvalidInput):
        world.ttls = {"profiles": 10}
    assert world.ttls == TTLs()
    assert world.profiles.get(USER)


def test_a_year_is_the_longest_ttl_and_works(world):
    world.ttls = world.ttls.with_(profiles=365 * 24 * 3600)
    world.profiles.get(USER)
    assert world.profiles.get(USER)
    assert counts(world, "profiles").hits == 1


@pytest.mark.parametrize("options", [{"ttls": {"profiles": 10}}, {"seed": "1"}, {"seed": True},
                                     {"dataset": "huge"}, {"dataset": ["tiny"]}, {"namespace": "a:b"},
                                     {"namespace": ""}, {"namespace": "x" * 33}],
                         ids=["ttls dict", "seed str", "seed bool", "unknown dataset", "dataset list",
                              "namespace colon", "empty namespace", "long namespace"])
def test_bad_world_options_are_invalid_input(options):
    with pytest.raises(InvalidInput):
        World(**options)


def test_clock_cannot_go_backwards(world):
    with pytest.raises(InvalidInput):
        world.clock.advance(-1)


@pytest.mark.parametrize("url", ["http://x", "garbage", "redis//x", "redis://[::1", "redis://:s3cret@h:notaport/0",
                                 123, b"redis://x", ["redis://x"]])
def test_bad_redis_urls_are_config_errors(url):
    with pytest.raises(ConfigError) as info:
        World(redis_url=url, dataset=None)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("url", ["nosuch://x", "garbage", "postgresql://u:s3cret@h:notaport/db",
                                 "nosuch://u:s3cret@h/db", "garbage u:s3cret@", 123])
def test_bad_database_urls_are_config_errors(url):
    with pytest.raises(ConfigError) as info:
        World(database_url=url, dataset=None)
    assert "s3cret" not in str(info.value)


def test_a_database_that_cannot_be_reached_is_a_config_error_naming_it(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/directory/db.sqlite"
    with pytest.raises(ConfigError, match=f"cannot reach database at {url}: OperationalError: unable to open"):
        World(database_url=url)


# Property tests ---------------------------------------------------------------------------------

any_text = st.text(max_size=80)
valid_ids = st.from_regex(ID_PATTERN, fullmatch=True)
not_text = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=10), st.booleans(),
                     st.lists(st.text(max_size=3), max_size=2))


@PROPERTY
@given(user_id=st.one_of(any_text, valid_ids))
def test_any_text_as_a_user_id_is_a_profile_not_found_or_invalid_input(world, user_id):
    try:
        profile = world.profiles.get(user_id)
    except (InvalidInput, NotFound):
        pass
    else:
        assert profile.user_id == user_id
    assert all(k.startswith("wc:user:{") or k.startswith("wc:{presence}") for k in world.redis.scan_iter())


@PROPERTY
@given(value=not_text)
def test_non_text_ids_are_always_invalid_input(world, value):
    with pytest.raises(InvalidInput):
        world.profiles.get(value)
    with pytest.raises(InvalidInput):
        world.groups.members(value)
    with pytest.raises(InvalidInput):
        world.messages.recent(value)


@PROPERTY
@given(conversation=st.one_of(any_text, st.builds("dm.{}.{}".format, valid_ids, valid_ids),
                              st.builds("grp.{}".format, valid_ids)))
def test_any_text_as_a_conversation_id_is_history_not_found_or_invalid_input(world, conversation):
    try:
        history = world.messages.recent(conversation)
    except (InvalidInput, NotFound):
        return
    assert ids(history) == db_ids(world, conversation)


@PROPERTY
@given(body=st.one_of(st.text(max_size=200), st.text(alphabet=" \t\n\r\u2003", max_size=5),
                      st.integers(MAX_BODY_CHARS - 2, MAX_BODY_CHARS + 2).map(lambda n: "y" * n)))
def test_any_body_is_stored_exactly_or_refused(world, body):
    count = world.repo.message_count(SMALL_CHAT)
    world.messages.recent(SMALL_CHAT)
    try:
        sent = world.messages.send(SMALL_CHAT, A, body)
    except InvalidInput:
        assert world.repo.message_count(SMALL_CHAT) == count
        assert not body.strip() or len(body) > MAX_BODY_CHARS or "\x00" in body
        return
    assert sent.body == body
    assert world.messages.recent(SMALL_CHAT, limit=1) == [sent]  # from the cached list
    assert world.repo.recent_messages(SMALL_CHAT, 1)[0]["body"] == body  # from the database


@PROPERTY
@given(text=st.text(max_size=70))
def test_any_profile_text_is_stored_exactly_or_refused(world, text):
    try:
        world.profiles.update(USER, username=text)
    except InvalidInput:
        assert len(text) > 64 or "\x00" in text
        return
    assert world.profiles.get(USER).username == text
    assert world.repo.user(USER)["username"] == text


@PROPERTY
@given(token=st.one_of(st.text(max_size=600), st.text(min_size=16, max_size=40)))
def test_any_token_is_a_session_none_or_invalid_input(world, token):
    try:
        assert world.sessions.authenticate(token) is None
    except InvalidInput as exc:
        assert len(token) < 16 or token not in str(exc)


# Corrupt cache payloads -------------------------------------------------------------------------

def _profile_key(w):
    return w.keys.profile(USER).data


def _chat_key(w):
    return w.keys.recent_messages(SMALL_CHAT).data


def _group_key(w):
    return w.keys.group_members(GROUP).data


def _session_key(w):
    return w.keys.session(token_digest(w.dataset.session_token(USER))).data


def _group_marker(w):
    return next(m for m in w.redis.smembers(_group_key(w)) if is_meta(m))


def _replace_group_marker(w, garbage):
    w.redis.srem(_group_key(w), _group_marker(w))
    w.redis.sadd(_group_key(w), garbage)


def _replace_with_string(w, key):
    w.redis.delete(key)
    w.redis.set(key, "garbage")


READS = {
    "profile": (_profile_key, lambda w: w.profiles.get(USER), lambda w: w.repo.user(USER)["username"],
                lambda profile: profile.username),
    "session": (_session_key, lambda w: w.sessions.authenticate(w.dataset.session_token(USER)),
                lambda w: USER, lambda session: session.user_id),
    "messages": (_chat_key, lambda w: w.messages.recent(SMALL_CHAT), lambda w: db_ids(w, SMALL_CHAT), ids),
    "groups": (_group_key, lambda w: w.groups.members(GROUP), lambda w: set(w.repo.group_members(GROUP)),
               set),
}
CORRUPTIONS = {
    "profile field not JSON": ("profile", lambda w: w.redis.hset(_profile_key(w), "username", "not json{")),
    "profile field of the wrong type": ("profile", lambda w: w.redis.hset(_profile_key(w), "username", "42")),
    "profile field missing": ("profile", lambda w: w.redis.hdel(_profile_key(w), "phone")),
    "profile marker not JSON": ("profile", lambda w: w.redis.hset(_profile_key(w), META_FIELD, "~meta{oops")),
    "profile marker infinite": ("profile", lambda w: w.redis.hset(_profile_key(w), META_FIELD,
                                                                  '~meta{"v":1,"exp":1e999,"missing":false}')),
    "profile marker removed": ("profile", lambda w: w.redis.hdel(_profile_key(w), META_FIELD)),
    "profile key of another type": ("profile", lambda w: _replace_with_string(w, _profile_key(w))),
    "session field garbage": ("session", lambda w: w.redis.hset(_session_key(w), "expires_ms", '"tomorrow"')),
    "session field bytes": ("session", lambda w: w.redis.hset(_session_key(w), "user_id", b"\xff\xfe")),
    "message not JSON": ("messages", lambda w: w.redis.lset(_chat_key(w), 0, "garbage")),
    "message bytes": ("messages", lambda w: w.redis.lset(_chat_key(w), 0, b"\xff\xfe\x00")),
    "message nested too deep": ("messages", lambda w: w.redis.lset(_chat_key(w), 1, "[" * 100_000)),
    "message missing fields": ("messages", lambda w: w.redis.lset(_chat_key(w), 0, '{"id":1}')),
    "message marker not JSON": ("messages", lambda w: w.redis.lset(_chat_key(w), -1, "~meta{oops")),
    "message marker gone": ("messages", lambda w: w.redis.rpop(_chat_key(w))),
    "message list of another type": ("messages", lambda w: _replace_with_string(w, _chat_key(w))),
    "group marker not JSON": ("groups", lambda w: _replace_group_marker(w, "~meta{oops")),
    "group marker replaced": ("groups", lambda w: _replace_group_marker(w, "garbage")),
    "group set of another type": ("groups", lambda w: _replace_with_string(w, _group_key(w))),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_entry_is_a_logged_miss_that_the_next_fill_repairs(world, caplog, corruption):
    kind, corrupt = CORRUPTIONS[corruption]
    key, read, truth, view = READS[kind]
    read(world)
    corrupt(world)
    data_type = {"profile": "profiles", "session": "sessions"}.get(kind, kind)
    world.metrics.reset()
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        assert view(read(world)) == truth(world)
    assert "corrupt cache entry" in caplog.text and key(world) in caplog.text
    assert view(read(world)) == truth(world)
    c = counts(world, data_type)
    assert (c.misses, c.hits, c.errors) == (1, 1, 0)


def test_send_into_a_corrupt_list_drops_it_instead_of_failing(world):
    world.messages.recent(SMALL_CHAT)
    _replace_with_string(world, _chat_key(world))
    sent = world.messages.send(SMALL_CHAT, A, "still stored")
    assert world.messages.recent(SMALL_CHAT)[0] == sent


def test_member_change_on_a_corrupt_set_drops_it_instead_of_failing(world):
    world.groups.members(GROUP)
    _replace_with_string(world, _group_key(world))
    world.groups.add_member(GROUP, USER)
    assert world.groups.members(GROUP) == set(world.repo.group_members(GROUP))


# Failed cache writes lose no data ---------------------------------------------------------------

def test_send_whose_cache_step_fails_still_stores_and_shows_the_message(world, caplog):
    world.messages.recent(SMALL_CHAT)
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"), fail_on_round_trip(1) as failure:
        sent = world.messages.send(SMALL_CHAT, A, "through a failing cache")
    assert failure.fired  # a live client reconnects once and retries; fakeredis has no retry to absorb it
    assert world.repo.recent_messages(SMALL_CHAT, 1)[0]["id"] == sent.id
    assert world.messages.recent(SMALL_CHAT)[0] == sent
    assert ids(world.messages.recent(SMALL_CHAT)) == db_ids(world, SMALL_CHAT)


def test_send_with_the_cache_down_still_stores_the_message(world, caplog, monkeypatch):
    """Neither the push nor the drop reaches Redis: the message is stored, and shown once Redis is back."""
    world.messages.recent(SMALL_CHAT)

    def down(*args, **kwargs):
        raise redis.ConnectionError("cache down")

    monkeypatch.setattr(world.scripts, "push_message", down)
    sent = world.messages.send(SMALL_CHAT, A, "cache is down")
    assert world.repo.recent_messages(SMALL_CHAT, 1)[0]["id"] == sent.id
    monkeypatch.undo()
    assert world.messages.recent(SMALL_CHAT)[0] == sent  # no TTL to wait out: the stale list was dropped


def test_send_whose_push_fails_with_an_error_reply_drops_the_list(world, caplog, monkeypatch):
    """Redis answers, but with an error: the list is dropped at once and a warning says so."""
    world.messages.recent(SMALL_CHAT)

    def refuse(*args, **kwargs):
        raise redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'")

    monkeypatch.setattr(world.scripts, "push_message", refuse)
    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        sent = world.messages.send(SMALL_CHAT, A, "cache is full")
    assert "could not be updated" in caplog.text and "dropped it" in caplog.text
    monkeypatch.undo()
    assert world.messages.recent(SMALL_CHAT)[0] == sent


def test_update_with_redis_unreachable_is_stored_and_the_next_read_shows_it(world):
    world.profiles.get(USER)
    with unreachable():
        world.profiles.update(USER, username="Changed")
    assert world.repo.user(USER)["username"] == "Changed"
    assert world.guard.pending == 2  # the profile and the status record: two copies of the row
    assert world.profiles.get(USER).username == "Changed"  # no TTL to wait out
    assert world.guard.pending == 0


def test_logout_with_redis_unreachable_revokes_and_the_cached_session_is_dropped(world):
    token = world.sessions.login(USER)
    assert world.sessions.authenticate(token) is not None
    with unreachable():
        assert world.sessions.logout(token) is True
    assert world.repo.session(token_digest(token.reveal())) is None
    assert world.sessions.authenticate(token) is None


def test_add_member_with_redis_unreachable_is_stored_and_the_next_read_shows_it(world):
    world.groups.members(GROUP)
    with unreachable():
        assert world.groups.add_member(GROUP, USER) is True
    assert USER in world.repo.group_members(GROUP)
    assert USER in world.groups.members(GROUP)


# Concurrent creates, oversized and unhashable arguments -----------------------------------------

RACERS = 12


@pytest.mark.parametrize("what", ["user", "group"])
def test_concurrent_creates_of_one_id_are_one_success_and_already_exists_for_the_rest(backend, make_world, what,
                                                                                        tmp_path):
    """The database's unique key decides the race: no IntegrityError escapes, and exactly one create happened.

    SQLite in a file, not in memory: there every thread has a connection of its own, as with PostgreSQL.
    """
    world = make_world(database_url=backend.database_url or f"sqlite:///{tmp_path}/race.db")
    for attempt in range(3):  # each attempt a new id: one race may happen not to overlap
        new_id = f"racer{attempt}"
        create = {"user": lambda: world.profiles.create(new_id, "Racer", "+15550000000"),
                  "group": lambda: world.groups.create(new_id, "Racers", [A, B])}[what]
        start = threading.Barrier(RACERS)

        def race():
            start.wait()
            try:
                create()
                return "created"
            except InvalidInput as exc:
                return str(exc)

        with ThreadPoolExecutor(RACERS) as pool:
            outcomes = Counter(pool.map(lambda _: race(), range(RACERS)))
        assert outcomes == {"created": 1, f"{what} {new_id!r} already exists": RACERS - 1}
    if what == "group":
        assert world.groups.members("racer2") == {A, B}
    else:
        assert world.profiles.get("racer2").username == "Racer"


NOT_FINITE = [None, float("nan"), float("inf"), -float("inf"), "5", [1], True]


@pytest.mark.parametrize("bad", NOT_FINITE, ids=repr)
def test_a_simulated_clock_moves_only_by_finite_numbers(bad):
    clock = SimulatedClock()
    for move in (clock.advance, clock.advance_to, SimulatedClock):
        with pytest.raises(InvalidInput):
            move(bad)
    assert clock.now_ms() == SimulatedClock().now_ms()


@pytest.mark.parametrize("clock", ["", 0, "system", SystemClock, object()], ids=repr)
def test_a_world_refuses_a_clock_that_cannot_tell_the_time_at_once(clock):
    with pytest.raises(InvalidInput, match="clock"):
        World(clock=clock, dataset=None)


BAD_NAMES = [[], {}, {"lock"}, ["cache-aside"]]  # unhashable: `name in a_dict` raised TypeError


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_unknown_or_unhashable_names_of_patterns_and_strategies_are_invalid_input(world, name):
    with pytest.raises(InvalidInput):
        patterns.make(name, patterns.PatternContext.from_world(world))
    with pytest.raises(InvalidInput):
        make_strategy(name, world.redis, world.keys)


STATUS_IDS = ["\ud800", 2**63, ["u000001"], "u\x00", ":{}*", None, "", "u" * 65]


@pytest.mark.parametrize("name", sorted(patterns.PATTERNS))
def test_status_patterns_refuse_bad_ids_before_any_call(world, snapshot, name):
    pattern = patterns.make(name, patterns.PatternContext.from_world(world))
    before = snapshot()
    for bad in STATUS_IDS:
        with pytest.raises(InvalidInput):
            pattern.get(bad)
        with pytest.raises(InvalidInput):
            run_steps(pattern.read(bad))
        with pytest.raises(InvalidInput):
            pattern.set(bad, "hi")
    assert snapshot() == before


def test_a_group_of_70000_members_is_created_in_batches_and_read_whole(world):
    """Above PostgreSQL's 65,535 parameters a statement (and SQLite's 32,766) and Lua's 8,000 unpacked values."""
    members = [f"m{n:06d}" for n in range(70_000)]
    world.repo.bulk_insert({"users": [{"id": m, "username": m, "phone": "+1", "updated_ms": 0} for m in members]})
    world.groups.create("crowd", "Everyone", members)
    assert world.repo.group_members("crowd") == members
    assert world.groups.members("crowd") == set(members)
    assert world.groups.members("crowd") == set(members)
    assert counts(world, "groups").hits == 1


def test_whole_number_takes_ints_and_numpy_ints_in_range_and_refuses_the_rest():
    import numpy as np

    from whatsapp_cache.validation import whole_number

    assert whole_number(np.int64(5), "keys", 1, 10) == 5 and type(whole_number(np.int64(5), "keys", 1)) is int
    for bad in (True, 0, 11, 2.0, "3", None):
        with pytest.raises(InvalidInput, match="keys must be a whole number from 1 to 10"):
            whole_number(bad, "keys", 1, 10)
    with pytest.raises(InvalidInput, match="of at least 1,000"):
        whole_number(999, "requests", 1000)
