"""Races replayed deterministically: one party's step is run inside another's.

Each function forces one interleaving that threads would hit only now and then, so a
lesson or a test can show it every time.
"""

from __future__ import annotations

from .naive import NaiveSeedCache


def fill_between_insert_and_push(world, conversation_id: str, sender_id: str, body: str) -> list[int]:
    """Library: sender INSERTs; a reader misses and fills from the database (which already has
    the message); only then does the sender's cache push run. Returns the ids a reader sees next."""
    push = world.scripts.push_message

    def reader_runs_first(*args, **kwargs):
        world.messages.recent(conversation_id)
        return push(*args, **kwargs)

    world.scripts.push_message = reader_runs_first
    try:
        world.messages.send(conversation_id, sender_id, body)
    finally:
        world.scripts.push_message = push
    return [message.id for message in world.messages.recent(conversation_id)]


def naive_fill_between_insert_and_push(naive: NaiveSeedCache, sender: str, receiver: str, text: str) -> list[int]:
    """The seed's code under the same interleaving: its LPUSH lands on the reader's fresh fill."""
    client = naive.redis
    lpush = client.lpush

    def reader_runs_first(key, *values):
        client.lpush = lpush
        naive.get_recent_messages(sender, receiver)
        return lpush(key, *values)

    client.lpush = reader_runs_first
    try:
        naive.send_message(sender, receiver, text)
    finally:
        client.lpush = lpush
        if "lpush" in vars(client):
            del client.lpush
    return [message["id"] for message in naive.get_recent_messages(sender, receiver)]
