"""Recent messages: one newest-first list of the last 100 per conversation, never partial, never doubled."""

import pytest

from support import (BIG_CHAT, BIG_CHAT_USERS, EMPTY_CHAT, GROUP, HOUR, OUTSIDER, SECOND, SMALL_CHAT,
                     SMALL_CHAT_USERS, STRANGERS, counts, db_ids, ids)

from whatsapp_cache import InvalidInput, NotFound, World
from whatsapp_cache.datatypes.messages import RECENT_LIMIT

A, B = SMALL_CHAT_USERS


def chat_keys(world) -> list[str]:
    return [k for k in world.redis.scan_iter(match=f"{world.keys.namespace}:chat:*") if not k.endswith(":gen")]


def is_newest_first(message_ids) -> bool:
    return all(a > b for a, b in zip(message_ids, message_ids[1:]))


def test_conversation_id_is_the_same_whoever_asks(world):
    assert world.messages.conversation_between(A, B) == world.messages.conversation_between(B, A) == SMALL_CHAT


def test_both_directions_land_in_one_cached_list(world):
    world.messages.recent(SMALL_CHAT)
    a_to_b = world.messages.send(SMALL_CHAT, A, "hi B")
    b_to_a = world.messages.send(world.messages.conversation_between(B, A), B, "hi A")
    assert ids(world.messages.recent(SMALL_CHAT))[:2] == [b_to_a.id, a_to_b.id]
    assert chat_keys(world) == [world.keys.recent_messages(SMALL_CHAT).data]


def test_first_read_misses_with_one_query_then_hits(world):
    first = world.messages.recent(SMALL_CHAT)
    assert world.messages.recent(SMALL_CHAT) == first
    c = counts(world, "messages")
    assert (c.misses, c.hits, c.db_queries) == (1, 1, 1)


def test_fill_is_newest_first_and_matches_the_database(world):
    assert ids(world.messages.recent(SMALL_CHAT)) == db_ids(world, SMALL_CHAT)
    cached = ids(world.messages.recent(SMALL_CHAT))
    assert cached == db_ids(world, SMALL_CHAT) and is_newest_first(cached)


def test_sends_keep_the_list_newest_first(world):
    world.messages.recent(SMALL_CHAT)
    sent = [world.messages.send(SMALL_CHAT, sender, f"message {i}") for i, sender in enumerate((A, B, A))]
    cached = ids(world.messages.recent(SMALL_CHAT))
    assert cached[:3] == [m.id for m in reversed(sent)]
    assert cached == db_ids(world, SMALL_CHAT) and is_newest_first(cached)
    assert counts(world, "messages").misses == 1  # the sends went into the cached list


def test_list_is_trimmed_to_the_newest_100(world):
    assert world.repo.message_count(BIG_CHAT) > RECENT_LIMIT
    assert len(world.messages.recent(BIG_CHAT)) == RECENT_LIMIT
    for i in range(5):
        world.messages.send(BIG_CHAT, BIG_CHAT_USERS[i % 2], f"more {i}")
    cached = ids(world.messages.recent(BIG_CHAT))
    assert cached == db_ids(world, BIG_CHAT, RECENT_LIMIT)
    assert world.redis.llen(world.keys.recent_messages(BIG_CHAT).data) == RECENT_LIMIT + 1  # + marker
    assert counts(world, "messages").misses == 1


def test_limit_returns_the_newest_few(world):
    assert ids(world.messages.recent(BIG_CHAT, limit=5)) == db_ids(world, BIG_CHAT, 5)
    assert ids(world.messages.recent(BIG_CHAT, limit=3)) == db_ids(world, BIG_CHAT, 3)


def test_message_fields_round_trip(world):
    world.messages.recent(SMALL_CHAT)
    sent = world.messages.send(SMALL_CHAT, A, "héllo 👋 \"quoted\" ~meta {\"id\":1,}")
    assert world.messages.recent(SMALL_CHAT, limit=1) == [sent]
    world.flush_cache()
    assert world.messages.recent(SMALL_CHAT, limit=1) == [sent]


def test_a_hit_builds_the_same_messages_as_the_miss(world):
    missed = world.messages.recent(SMALL_CHAT)
    hit = world.messages.recent(SMALL_CHAT)
    assert counts(world, "messages").hits == 1 and missed
    assert [(m, hash(m), repr(m), list(vars(m).items())) for m in hit] == \
        [(m, hash(m), repr(m), list(vars(m).items())) for m in missed]


def test_entry_expires_after_one_hour_on_the_simulated_clock(world):
    world.messages.recent(SMALL_CHAT)
    world.clock.advance(HOUR - 1)
    world.messages.recent(SMALL_CHAT)
    world.clock.advance(1)
    world.messages.recent(SMALL_CHAT)
    c = counts(world, "messages")
    assert (c.misses, c.hits) == (2, 1)


def test_changed_ttl_applies_to_new_entries(world):
    world.ttls = world.ttls.with_(messages=10)
    world.messages.recent(SMALL_CHAT)
    world.clock.advance(10 * SECOND)
    world.messages.recent(SMALL_CHAT)
    assert counts(world, "messages").misses == 2


def test_send_after_logical_expiry_leaves_no_partial_list(world):
    world.messages.recent(BIG_CHAT)
    world.clock.advance(HOUR)
    sent = world.messages.send(BIG_CHAT, BIG_CHAT_USERS[0], "after expiry")
    history = world.messages.recent(BIG_CHAT)
    assert len(history) == RECENT_LIMIT and history[0] == sent
    assert ids(history) == db_ids(world, BIG_CHAT)


def test_send_after_the_key_is_deleted_leaves_no_partial_list(world):
    world.messages.recent(SMALL_CHAT)
    world.redis.delete(world.keys.recent_messages(SMALL_CHAT).data)
    sent = world.messages.send(SMALL_CHAT, A, "after eviction")
    assert not world.redis.exists(world.keys.recent_messages(SMALL_CHAT).data)
    history = world.messages.recent(SMALL_CHAT)
    assert history[0] == sent and ids(history) == db_ids(world, SMALL_CHAT)
    assert len(history) > 1


def test_no_duplicate_when_a_fill_lands_between_insert_and_push(world, monkeypatch):
    """Sender INSERTs; a reader misses and fills (the message is already in the database); then the push."""
    push = world.scripts.push_message

    def reader_fills_first(*args, **kwargs):
        world.messages.recent(SMALL_CHAT)
        return push(*args, **kwargs)

    monkeypatch.setattr(world.scripts, "push_message", reader_fills_first)
    sent = world.messages.send(SMALL_CHAT, A, "raced")
    cached = ids(world.messages.recent(SMALL_CHAT))
    assert cached.count(sent.id) == 1
    assert cached == db_ids(world, SMALL_CHAT)


def test_no_lost_message_when_a_send_lands_inside_a_fill(world, monkeypatch):
    """A reader reads the rows; a send completes; the reader's (now stale) fill must be refused."""
    history = world.repo.conversation_history
    sent = []

    def sender_sends_after_the_read(*args):
        rows = history(*args)
        if not sent:
            sent.append(world.messages.send(SMALL_CHAT, A, "raced"))
        return rows

    monkeypatch.setattr(world.repo, "conversation_history", sender_sends_after_the_read)
    stale = world.messages.recent(SMALL_CHAT)
    assert sent[0].id not in ids(stale)  # the racing reader saw the older rows...
    cached = ids(world.messages.recent(SMALL_CHAT))  # ...but did not cache them
    assert cached.count(sent[0].id) == 1 and cached == db_ids(world, SMALL_CHAT)


def test_empty_conversation_costs_one_query_then_hits(world):
    for _ in range(3):
        assert world.messages.recent(EMPTY_CHAT) == []
    c = counts(world, "messages")
    assert (c.db_queries, c.misses, c.hits) == (1, 1, 2)


def test_first_message_of_an_empty_conversation_is_pushed_into_the_cached_list(world):
    world.messages.recent(EMPTY_CHAT)
    sent = world.messages.send(EMPTY_CHAT, EMPTY_CHAT.split(".")[1], "first!")
    assert world.messages.recent(EMPTY_CHAT) == [sent]
    assert counts(world, "messages").misses == 1


def test_unknown_conversation_costs_one_query_then_hits(world):
    unknown = "dm.{}.{}".format(*STRANGERS)
    for _ in range(3):
        with pytest.raises(NotFound):
            world.messages.recent(unknown)
    c = counts(world, "messages")
    assert (c.db_queries, c.misses, c.hits) == (1, 1, 2)


def test_new_conversation_replaces_a_cached_not_found(world):
    unknown = "dm.{}.{}".format(*STRANGERS)
    with pytest.raises(NotFound):
        world.messages.recent(unknown)
    conversation = world.messages.conversation_between(*reversed(STRANGERS))
    assert conversation == unknown
    assert world.messages.recent(conversation) == []
    sent = world.messages.send(conversation, STRANGERS[0], "hello stranger")
    assert world.messages.recent(conversation) == [sent]


def test_new_group_replaces_a_cached_not_found_for_its_conversation(world):
    with pytest.raises(NotFound):
        world.messages.recent("grp.gnew")
    world.groups.create("gnew", "New group", [A, B])
    sent = world.messages.send("grp.gnew", A, "welcome")
    assert world.messages.recent("grp.gnew") == [sent]


def test_conversation_with_an_unknown_user_is_not_found(world):
    with pytest.raises(NotFound):
        world.messages.conversation_between(A, "nobody")


def test_group_conversation_is_cached_like_a_direct_one(world):
    conversation = f"grp.{GROUP}"
    member = world.repo.group_members(GROUP)[0]
    world.messages.recent(conversation)
    sent = world.messages.send(conversation, member, "hello group")
    assert world.messages.recent(conversation)[0] == sent
    assert ids(world.messages.recent(conversation)) == db_ids(world, conversation)


def test_only_participants_may_send(world):
    before = world.repo.message_count(SMALL_CHAT)
    with pytest.raises(InvalidInput):
        world.messages.send(SMALL_CHAT, OUTSIDER, "let me in")
    with pytest.raises(InvalidInput):
        world.messages.send(f"grp.{GROUP}", OUTSIDER, "let me in")
    assert world.repo.message_count(SMALL_CHAT) == before


def test_send_to_an_unknown_conversation_is_not_found(world):
    with pytest.raises(NotFound):
        world.messages.send("dm.{}.{}".format(*STRANGERS), STRANGERS[0], "hi")


# Ids under a database's own collation ------------------------------------------------------------

MIXED_CASE_PAIRS = [("Bob", "alice"), ("u_1", "uA"), ("Zed-9", "zed_0")]  # code point order != en-US order


@pytest.fixture
def icu_world(live_redis_url, icu_database_url):
    world = World(live_redis_url, icu_database_url, dataset="tiny")
    yield world
    world.flush_cache(keep_queue=False)
    world.repo.drop_schema()
    world.close()


@pytest.mark.live
def test_direct_conversations_of_any_ids_work_under_an_icu_collation(icu_world):
    """Python puts "Bob" before "alice" (code points), ICU en-US after; ids must
    compare the same in both, or the CHECK user_lo < user_hi refuses the pair Python ordered."""
    world = icu_world
    everyone = sorted(user for pair in MIXED_CASE_PAIRS for user in pair)
    for user in everyone:
        world.profiles.create(user, user, "+15550000000")
    for a, b in MIXED_CASE_PAIRS:
        low, high = sorted((a, b))
        conversation = world.messages.conversation_between(a, b)
        assert conversation == world.messages.conversation_between(b, a) == f"dm.{low}.{high}"
        row = world.repo.conversation(conversation)
        assert (row["user_lo"], row["user_hi"]) == (low, high)
        sent = [world.messages.send(conversation, a, "hi"), world.messages.send(conversation, b, "hello")]
        assert world.messages.recent(conversation) == sent[::-1]
    world.groups.create("mixed", "Mixed case", everyone)
    assert world.repo.group_members("mixed") == everyone  # SQL's ORDER BY agrees with Python's sorted()
    assert world.groups.members("mixed") == set(everyone)
