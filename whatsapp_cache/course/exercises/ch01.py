"""Chapter 01's exercises: one key per conversation, and a cached list read only when complete."""

from __future__ import annotations

import json

from ...codec import encode_message, encode_meta
from . import Case, expect, exercise

A, B, C = "u000003", "u000036", "u000008"


def _chat_key_is_symmetric(chat_key, _bench) -> None:
    got = (chat_key(A, B), chat_key(B, A))
    expect(got[0] == got[1], f"chat_key({A!r}, {B!r}) and chat_key({B!r}, {A!r})", got, "the same key twice")


def _chat_key_separates_pairs(chat_key, _bench) -> None:
    pairs = [(A, B), (A, C), (B, C), ("u1", "u12"), ("u11", "u2")]
    keys = [chat_key(*pair) for pair in pairs]
    expect(len(set(keys)) == len(pairs), f"chat_key on the pairs {pairs}", keys, "five different keys")


def _chat_key_is_a_string(chat_key, _bench) -> None:
    got = chat_key(A, B)
    expect(isinstance(got, str) and got != "", f"chat_key({A!r}, {B!r})", got, "a non-empty string")


def _chat_key_refuses_one_user(chat_key, _bench) -> None:
    try:
        got = chat_key(A, A)
    except ValueError:
        return
    expect(False, f"chat_key({A!r}, {A!r})", got, "a ValueError: a direct chat needs two different users")


def _both_directions_read_one_list(chat_key, bench) -> None:
    """The seed's bug 2 on the real backend: A's message to B must be in the list B reads."""
    redis = bench.world.redis
    key = chat_key(A, B)
    redis.lpush(f"{bench.world.keys.namespace}:{key}", json.dumps({"from": A, "text": "hi"}))
    seen = redis.lrange(f"{bench.world.keys.namespace}:{chat_key(B, A)}", 0, -1)
    expect(len(seen) == 1, f"LPUSH on chat_key({A!r}, {B!r}), then LRANGE on chat_key({B!r}, {A!r})", seen,
           "the one message A sent")


@exercise("chat_key", "01", "one key per direct conversation",
          hint="order the two ids the same way whoever writes first (e.g. sort them), and refuse a == b.")
def _chat_key_cases() -> list[Case]:
    return [Case("returns a key (a string)", _chat_key_is_a_string),
            Case("A -> B and B -> A give the same key", _chat_key_is_symmetric),
            Case("different pairs of users give different keys", _chat_key_separates_pairs),
            Case("a user cannot chat with themselves", _chat_key_refuses_one_user),
            Case("on Redis, a message pushed one way is read the other way", _both_directions_read_one_list)]


def _message(number: int) -> dict:
    return {"id": number, "conversation_id": f"dm.{A}.{B}", "sender_id": A, "body": f"message {number}",
            "sent_ms": 1_000 * number}


def _store(bench, key: str, items: list[str]) -> str:
    full = f"{bench.world.keys.namespace}:{key}"
    bench.world.redis.delete(full)
    if items:
        bench.world.redis.rpush(full, *items)
    return full


def _now(bench) -> int:
    return bench.world.clock.now_ms()


def _reads_a_complete_list(cached_messages, bench) -> None:
    messages = [_message(n) for n in (3, 2, 1)]
    key = _store(bench, "complete", [*map(encode_message, messages), encode_meta(_now(bench) + 60_000)])
    got = cached_messages(bench.world.redis, key, _now(bench))
    expect(got == messages, "cached_messages on a list of 3 messages and its marker", got,
           "the 3 messages as dicts, newest first (the marker is not a message)")


def _partial_list_is_a_miss(cached_messages, bench) -> None:
    """The seed's bug 1: a send LPUSHed onto an expired list leaves one message and no marker."""
    key = _store(bench, "partial", [encode_message(_message(9))])
    got = cached_messages(bench.world.redis, key, _now(bench))
    expect(got is None, "cached_messages on a list holding one message and no marker", got,
           "None (a miss): without the marker the list may be missing the rest of the history")


def _absent_list_is_a_miss(cached_messages, bench) -> None:
    key = _store(bench, "absent", [])
    got = cached_messages(bench.world.redis, key, _now(bench))
    expect(got is None, "cached_messages on a key that does not exist", got, "None (a miss)")


def _expired_marker_is_a_miss(cached_messages, bench) -> None:
    key = _store(bench, "expired", [encode_message(_message(1)), encode_meta(_now(bench) - 1)])
    got = cached_messages(bench.world.redis, key, _now(bench))
    expect(got is None, "cached_messages on a complete list whose marker expired 1 ms ago", got,
           "None (a miss): the marker's exp is in the past")


def _empty_complete_list_is_a_hit(cached_messages, bench) -> None:
    key = _store(bench, "empty", [encode_meta(_now(bench) + 60_000)])
    got = cached_messages(bench.world.redis, key, _now(bench))
    expect(got == [], "cached_messages on a list holding only its marker (an empty chat)", got,
           "[] (a hit: the chat has no messages, and that answer is cached)")


def _one_round_trip(cached_messages, bench) -> None:
    from ...experiments.wire import count_round_trips

    key = _store(bench, "counted", [encode_message(_message(1)), encode_meta(_now(bench) + 60_000)])
    with count_round_trips(bench.world.redis) as wire:
        cached_messages(bench.world.redis, key, _now(bench))
    expect(wire.round_trips == 1, "cached_messages, counting round trips to Redis", wire.round_trips,
           "1 (one LRANGE of the whole list: the marker travels with the messages)")


@exercise("cached_messages", "01", "read a cached list only when it is complete",
          hint="LRANGE key 0 -1 once; the last item must be the marker (decode_meta), unexpired; "
               "decode the rest with decode_message.")
def _cached_messages_cases() -> list[Case]:
    return [Case("a complete list is a hit: its messages, newest first", _reads_a_complete_list),
            Case("a list without its marker is a miss (the seed's partial list)", _partial_list_is_a_miss),
            Case("an absent list is a miss", _absent_list_is_a_miss),
            Case("a list whose marker expired is a miss", _expired_marker_is_a_miss),
            Case("an empty chat (only the marker) is a hit with no messages", _empty_complete_list_is_a_hit),
            Case("the read is one round trip", _one_round_trip)]
