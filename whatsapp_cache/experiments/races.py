"""Races replayed deterministically: one party's step is run inside another's.

Each function forces one interleaving that threads would hit only now and then, so a
lesson or a test can show it every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..patterns import CacheAside, PatternContext, WriteBehind, WriteBehindWorker, WriteThrough
from ..patterns.base import decode_record
from ..tables import Column, format_table
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


@dataclass(frozen=True)
class Step:
    """One call by one actor, and what the database and the cache hold right after it."""

    actor: str
    action: str
    database: str
    cache: str


def replay(world, user_id: str, actors: dict, order: list[tuple[str, str]]) -> tuple[list[Step], dict]:
    """Advance each actor's operation (a step generator) by one real call at a time, in `order`
    ((actor, what that call does) pairs); then let every actor finish. Returns the timeline and results."""
    results, timeline = {}, []
    key = world.keys.status(user_id).data
    world.redis.delete(key)  # every replay starts from an empty cache

    def advance(actor: str) -> bool:
        try:
            next(actors[actor])
            return True
        except StopIteration as stop:
            results[actor] = stop.value
            return False

    for actor, action in order:
        advance(actor)
        text, version = world.repo.status(user_id)
        raw = world.redis.get(key)
        cached = "nothing" if raw is None else "v{0.version} {0.value!r}".format(decode_record(raw)[0])
        timeline.append(Step(actor, action, f"v{version} {text!r}", cached))
    for actor in actors:
        while actor not in results and advance(actor):
            pass
    return timeline, results


def stale_set_race(world, user_id: str, guarded: bool) -> tuple[list[Step], "object"]:
    """Cache-aside's stale set: the reader misses and reads v1, the writer commits v2 and deletes,
    then the reader fills v1. Returns the timeline and what a later read returns."""
    pattern = CacheAside(PatternContext.from_world(world), guarded=guarded)
    actors = {"reader": pattern.read(user_id), "writer": pattern.write(user_id, "new status")}
    order = [("reader", "GET: a miss"), ("reader", "SELECT: reads the row"),
             ("writer", "UPDATE: commits a new version"),
             ("writer", "DEL + new generation" if guarded else "DEL"),
             ("reader", "fill, if generation unchanged" if guarded else "SET what it read")]
    timeline, _ = replay(world, user_id, actors, order)
    return timeline, pattern.get(user_id)


def out_of_order_writes(world, user_id: str, guarded: bool) -> tuple[list[Step], "object"]:
    """Write-through's race: writer A commits first but reaches the cache last."""
    pattern = WriteThrough(PatternContext.from_world(world), guarded=guarded)
    actors = {"writer A": pattern.write(user_id, "from A"), "writer B": pattern.write(user_id, "from B")}
    action = "SET if newer" if guarded else "SET"
    order = [("writer A", "UPDATE"), ("writer B", "UPDATE"), ("writer B", action), ("writer A", action)]
    timeline, _ = replay(world, user_id, actors, order)
    return timeline, pattern.get(user_id)


def format_timeline(timeline: list[Step]) -> str:
    columns = (Column("step"), Column("actor", "<", width=9, gap="  "), Column("call", "<", width=30),
               Column("database now", "<", width=18), Column("cache now", "<"))
    return format_table(columns, [(i, s.actor, s.action, s.database, s.cache) for i, s in enumerate(timeline, 1)])


def _status_text(world, user_id: str) -> str:
    text, _version = world.repo.status(user_id)
    return repr(text)


def naive_workers_out_of_order(world, user_id: str) -> tuple[list[Step], str]:
    """The seed's write-behind: two workers apply one user's updates in the wrong order (bug 9 in
    tests/test_seed_naive_variants.py).

    The seed's worker runs a plain `UPDATE users SET status = ? WHERE user_id = ?` per message.
    Worker 1 takes the first update, worker 2 the second; worker 2 writes first and worker 1,
    delayed (a pause, a slow connection), writes last. Returns the timeline and the database's text.
    """
    naive = NaiveSeedCache(world.redis, world.repo, world.clock.now_ms)
    cache_key = f"user:{user_id}"
    world.redis.delete(cache_key)
    queue, timeline = [], []

    def note(actor: str, action: str) -> None:
        cached = world.redis.hget(cache_key, "status")
        timeline.append(Step(actor, action, _status_text(world, user_id), "nothing" if cached is None else repr(cached)))

    for text in ("first", "second"):
        naive.update_user_status(user_id, text)          # HSET + publish, as the seed does
        queue.append({"userId": user_id, "status": text})  # the message a queue would hand a worker
        note("app", f"HSET + publish {text!r}")
    taken = {"worker 1": queue.pop(0), "worker 2": queue.pop(0)}
    note("worker 1", "takes 'first'")
    note("worker 2", "takes 'second'")
    for worker in ("worker 2", "worker 1"):
        naive.seed_worker_apply(taken[worker])
        note(worker, f"UPDATE {taken[worker]['status']!r}")
    world.redis.delete(cache_key)
    return timeline, world.repo.status(user_id)[0]


def library_workers_out_of_order(world, user_id: str) -> tuple[list[Step], str]:
    """The same interleaving with the library: the late worker's older version is skipped.

    Two WriteBehindWorkers (batch=1) each take one entry from the stream; worker 2 applies first,
    worker 1 last, and `UPDATE ... WHERE version < new` keeps the newer row.
    Returns the timeline and the database's text.
    """
    pattern = WriteBehind(PatternContext.from_world(world))
    workers = {name: WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, consumer=f"late-{name[-1]}",
                                       batch=1) for name in ("worker 1", "worker 2")}
    key = world.keys.status(user_id).data
    timeline, taken = [], {}

    def note(actor: str, action: str) -> None:
        raw = world.redis.get(key)
        cached = "nothing" if raw is None else repr(decode_record(raw)[0].value)
        timeline.append(Step(actor, action, _status_text(world, user_id), cached))

    for text in ("first", "second"):
        pattern.set(user_id, text)
        note("app", f"script + XADD {text!r}")
    for name in ("worker 1", "worker 2"):
        taken[name] = workers[name].take()
        note(name, f"takes {len(taken[name])} entry")
    for name in ("worker 2", "worker 1"):
        result = workers[name].apply(taken[name])
        note(name, "UPDATE if newer: " + ("applied" if result.applied else "skipped"))
    return timeline, world.repo.status(user_id)[0]
