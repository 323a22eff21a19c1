"""Many threads on one World: every acknowledged write kept once, and the cache still equal to the database.

The embedded World (fakeredis + in-memory SQLite) used to lend its one sqlite3 connection to
every thread at once. Eight threads sending and four reading crashed the process (a segfault)
in most runs; in the others SQLAlchemy had replaced the connection by a new, empty database
("no such table"), and sends were acknowledged with an id another message got. The backends'
OneConnectionPool now lends the connection to one thread at a time and never opens a second one.

The mixed run below (sends, reads, profile updates, group changes, write-behind statuses and
its worker thread, 12 threads) runs on every backend, a few rounds of a few seconds each. On
every backend it also caught two changes of one group member reaching Redis in another order
than the database's (now refused by the set's generation; see test_groups.py).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import insert

from support import BIG_CHAT, BIG_CHAT_USERS, EMPTY_CHAT, EMPTY_CHAT_USERS, SMALL_CHAT, SMALL_CHAT_USERS
from whatsapp_cache import World
from whatsapp_cache.backends import EmbeddedDatabaseClosed, EmbeddedDatabaseHeld
from whatsapp_cache.patterns.concurrency import run_steps
from whatsapp_cache.datatypes.profiles import Profile
from whatsapp_cache.db import schema
from whatsapp_cache.db.repository import PROFILE_FIELDS
from whatsapp_cache.patterns import PatternContext, Versioned, WriteBehind, WriteBehindWorker

RUN_S = 3.0
ROUNDS = 3
JOIN_S = 30.0  # a thread still running this long after the stop is stuck (a deadlock)
CHATS = {BIG_CHAT: BIG_CHAT_USERS, SMALL_CHAT: SMALL_CHAT_USERS, EMPTY_CHAT: EMPTY_CHAT_USERS}
PROFILE_USERS = [f"u{n:06d}" for n in range(10, 20)]  # updated and read as profiles
STATUS_USERS = [f"u{n:06d}" for n in range(40, 50)]   # written only through write-behind
GROUPS = ["g00002", "g00003"]
JOINERS = [f"u{n:06d}" for n in range(50, 60)]        # added to and removed from GROUPS
THREADS = {"send": 4, "read": 3, "update_profile": 1, "change_group": 2, "write_status": 1}  # + the worker: 12


@dataclass
class MixedRun:
    """Threads doing one kind of request each in a loop, and what they were told."""

    world: World
    seed: int
    writer: WriteBehind = field(init=False)
    stop: threading.Event = field(default_factory=threading.Event)
    sent: list[tuple[int, str, str]] = field(default_factory=list)      # (id, conversation, body) acknowledged
    statuses: dict[str, tuple[str, int]] = field(default_factory=dict)  # user -> last (text, version) acknowledged
    done: dict[str, int] = field(default_factory=dict)                  # requests completed, by kind
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer = WriteBehind(PatternContext.from_world(self.world))

    def threads(self) -> list[threading.Thread]:
        return [threading.Thread(target=self._loop, args=(kind, n), name=f"{kind}-{n}", daemon=True)
                for kind, count in THREADS.items() for n in range(count)]

    def _loop(self, kind: str, n: int) -> None:
        rng = random.Random(f"{self.seed}-{kind}-{n}")
        step = getattr(self, kind)
        done = 0
        try:
            while not self.stop.is_set():
                step(rng, f"{kind}-{n}.{done}")
                done += 1
        except Exception as exc:  # the failure is the finding: record it, the test asserts there is none
            self.errors.append(f"{kind}-{n} after {done} requests: {type(exc).__name__}: {exc}")
        self.done[f"{kind}-{n}"] = done

    def send(self, rng: random.Random, tag: str) -> None:
        chat = rng.choice(list(CHATS))
        body = f"message {tag}"
        message = self.world.messages.send(chat, rng.choice(CHATS[chat]), body)
        self.sent.append((message.id, chat, body))

    def read(self, rng: random.Random, tag: str) -> None:
        kind = rng.randrange(4)
        if kind == 0:
            self.world.messages.recent(rng.choice(list(CHATS)))
        elif kind == 1:
            self.world.profiles.get(rng.choice(PROFILE_USERS))
        elif kind == 2:
            self.world.groups.members(rng.choice(GROUPS))
        else:
            run_steps(self.writer.read(rng.choice(STATUS_USERS)))

    def update_profile(self, rng: random.Random, tag: str) -> None:
        self.world.profiles.update(rng.choice(PROFILE_USERS), profile_pic=f"pic {tag}")

    def change_group(self, rng: random.Random, tag: str) -> None:
        group, user = rng.choice(GROUPS), rng.choice(JOINERS)
        if rng.random() < 0.5:
            self.world.groups.add_member(group, user)
        else:
            self.world.groups.remove_member(group, user)

    def write_status(self, rng: random.Random, tag: str) -> None:
        user, text = rng.choice(STATUS_USERS), f"status {tag}"
        self.statuses[user] = (text, run_steps(self.writer.write(user, text)))


def run_threads(run: MixedRun, worker: WriteBehindWorker, seconds: float) -> list[str]:
    """Start the worker and the request threads, stop them after `seconds`; the names of threads that hung."""
    threads = run.threads()
    worker.start(block_ms=50)
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    run.stop.set()
    for thread in threads:
        thread.join(JOIN_S)
    worker.stop()
    return [thread.name for thread in threads if thread.is_alive()]


def served_and_stored(world: World, writer: WriteBehind, written: set[str]) -> list[tuple[str, object, object]]:
    """(entry, what the World serves, what a read of the database gives) for every entry the run touched."""
    rows = []
    for chat in CHATS:
        served = [(m.id, m.body) for m in world.messages.recent(chat)]
        rows.append((chat, served, [(r["id"], r["body"]) for r in world.repo.recent_messages(chat, 100)]))
    for user in PROFILE_USERS:
        row = world.repo.user(user)
        rows.append((user, world.profiles.get(user), Profile(user, **{f: row[f] for f in PROFILE_FIELDS})))
    for group in GROUPS:
        rows.append((group, world.groups.members(group), frozenset(world.repo.group_members(group))))
    for user in sorted(written):
        rows.append((f"status {user}", run_steps(writer.read(user)), Versioned(*world.repo.status(user))))
    return rows


def done_by_kind(run: MixedRun) -> dict[str, int]:
    totals = dict.fromkeys(THREADS, 0)
    for thread, count in run.done.items():
        totals[thread.rsplit("-", 1)[0]] += count
    return totals


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_twelve_threads_on_one_world_keep_every_write_once_and_the_cache_equal_to_the_database(
        make_world, backend, round_, caplog, monkeypatch, figures):
    world = make_world()
    crashed = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)  # a thread that died of an exception
    caplog.set_level(logging.WARNING, logger="whatsapp_cache")
    before = {chat: world.repo.message_count(chat) for chat in CHATS}
    run = MixedRun(world, seed=round_)
    worker = WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, consumer=f"threads-{round_}")

    hung = run_threads(run, worker, RUN_S)
    worker.drain()

    assert hung == [] and run.errors == [] and [str(c.exc_value) for c in crashed] == []
    assert [r.getMessage() for r in caplog.records if r.name == "whatsapp_cache"] == []
    assert all(run.done.values()) and len(run.done) == sum(THREADS.values())
    # every acknowledged send has its own id and a row with exactly its body, and no other row came
    ids = [message_id for message_id, _, _ in run.sent]
    assert len(set(ids)) == len(ids)
    assert world.repo.message_bodies(ids) == {message_id: body for message_id, _, body in run.sent}
    added = {chat: sum(1 for _, c, _ in run.sent if c == chat) for chat in CHATS}
    assert {chat: world.repo.message_count(chat) - before[chat] for chat in CHATS} == added
    # every write-behind status reached the database; nothing left in the queue
    assert {user: world.repo.status(user) for user in run.statuses} == run.statuses
    assert world.redis.xlen(world.keys.write_behind_stream()) == 0
    # the cache serves what the database holds, for every entry the run touched
    hits = world.metrics.summary()[-1].hits
    compared = served_and_stored(world, run.writer, set(run.statuses))
    assert [(entry, served) for entry, served, stored in compared if served != stored] == []
    served_by_cache = world.metrics.summary()[-1].hits - hits
    counts = ", ".join(f"{count} x {kind}" for kind, count in done_by_kind(run).items())
    figures(f"threads {backend.name:<8} round {round_}: {sum(THREADS.values()) + 1} threads for {RUN_S:.0f} s: "
            f"{counts}; {len(compared)} entries equal to the database ({served_by_cache} served by the cache)")


# -- the embedded database's one connection ------------------------------------------------------

EMBEDDED = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


@EMBEDDED
def test_a_thread_holding_the_embedded_connection_is_refused_a_second_one_at_once(world):
    """Waiting for itself would never end; sharing would mix its transaction with the nested one."""
    with world.engine.begin() as held:
        started = time.monotonic()
        with pytest.raises(EmbeddedDatabaseHeld):
            world.repo.insert_message(SMALL_CHAT, SMALL_CHAT_USERS[0], "nested", world.clock.now_ms())
        assert time.monotonic() - started < 5
        assert held.exec_driver_sql("SELECT count(*) FROM messages WHERE body = 'nested'").scalar_one() == 0
    assert world.profiles.get("u000010").user_id == "u000010"  # given back: usable again


@EMBEDDED
def test_another_thread_waits_for_the_embedded_connection_instead_of_sharing_its_transaction(world):
    """Shared, the other thread's read ended in a ROLLBACK of this thread's INSERT: acknowledged, never stored."""
    reader = threading.Thread(target=world.repo.row_counts)
    with world.engine.begin() as conn:
        row = dict(conversation_id=SMALL_CHAT, sender_id=SMALL_CHAT_USERS[0], body="mine", sent_ms=1)
        message_id = conn.execute(insert(schema.messages).values(row).returning(schema.messages.c.id)).scalar_one()
        reader.start()
        reader.join(0.3)
        waited = reader.is_alive()
    reader.join(JOIN_S)
    assert world.repo.message_bodies([message_id]) == {message_id: "mine"}
    assert waited and not reader.is_alive()


@pytest.mark.parametrize("lose", ["invalidated", "world closed"])
def test_a_lost_embedded_connection_is_an_error_not_a_new_empty_database(lose):
    world = World(dataset="tiny")  # not make_world's: its clean-up needs the database this test loses
    try:
        if lose == "invalidated":  # what SQLAlchemy does after an error it takes for a disconnect, or a failed reset
            with world.engine.connect() as conn:
                conn.invalidate()
        else:
            world.close()
        with pytest.raises(EmbeddedDatabaseClosed):
            world.repo.row_counts()
        with pytest.raises(EmbeddedDatabaseClosed):  # and again: it never reconnects
            world.profiles.get("u000010")
    finally:
        world.close()
