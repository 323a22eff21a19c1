"""The write-behind worker: coalescing, redelivery after a crash, version checks, bad entries, lag, CLI.

Seed bug 9: the seed writes the cache, then publishes to a queue; a failed publish loses
the write and two workers can apply one user's updates out of order. WriteBehind queues
in the same script that writes the cache, entries stay pending until a worker has
committed them, and `UPDATE ... WHERE version < new` makes late or repeated entries
harmless. The last test kills real worker processes in the middle of a stream of writes.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from whatsapp_cache.cli import main
from whatsapp_cache.clock import SystemClock
from whatsapp_cache.patterns.concurrency import run_steps
from whatsapp_cache.db import schema
from whatsapp_cache.patterns import PatternContext, Versioned, WriteBehind, WriteBehindWorker
from whatsapp_cache.patterns.write_behind import GROUP, QueueLag

USERS = [f"u{n:06d}" for n in range(60)]  # the tiny data set's users
LIVE_ONLY = pytest.mark.parametrize("backend", [pytest.param("live", marks=pytest.mark.live)], indirect=True)


def writer(world) -> WriteBehind:
    return WriteBehind(PatternContext.from_world(world))


def worker(world, name: str, **options) -> WriteBehindWorker:
    return WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, consumer=name, **options)


def write(pattern: WriteBehind, user: str, text: str) -> int:
    """pattern.set() without advancing the clock (StatusPattern.set needs a SimulatedClock)."""
    return run_steps(pattern.write(user, text))


def assert_queue_empty(world) -> None:
    stream = world.keys.write_behind_stream()
    assert world.redis.xlen(stream) == 0
    assert world.redis.xpending(stream, GROUP)["pending"] == 0


def write_round_robin(pattern: WriteBehind, users: list[str], count: int) -> dict[str, tuple[str, int]]:
    """`count` writes spread over `users`; the last (text, version) written to each."""
    last = {}
    for n in range(count):
        user = users[n % len(users)]
        text = f"status #{n} of {user}"
        last[user] = (text, pattern.set(user, text))
    return last


# -- embedded and live ---------------------------------------------------------------------------

def test_many_writes_to_few_users_coalesce_into_few_database_writes(world):
    pattern = writer(world)
    users = USERS[:4]
    before = {user: world.repo.status(user) for user in users}
    last = write_round_robin(pattern, users, 120)
    assert {user: world.repo.status(user) for user in users} == before  # the database lags the queue
    assert {user: pattern.get(user) for user in users} == {user: Versioned(*tv) for user, tv in last.items()}

    totals = worker(world, "w1", batch=50).drain()

    assert (totals.read, totals.acknowledged, totals.passes, totals.db_writes) == (120, 120, 3, 3)
    assert (totals.applied, totals.skipped) == (12, 0)  # 4 users in each of 3 batches: 12 UPDATEs for 120 writes
    assert {user: world.repo.status(user) for user in users} == last
    assert_queue_empty(world)


def test_entries_of_a_worker_that_died_before_acknowledging_are_redelivered(world):
    pattern = writer(world)
    users = USERS[10:16]
    before = {user: world.repo.status(user) for user in users}
    last = write_round_robin(pattern, users, 30)
    stream = world.keys.write_behind_stream()

    taken = worker(world, "doomed").take()           # read ...
    assert len(taken) == 30
    del taken                                            # ... and die before applying or acknowledging
    summary = world.redis.xpending(stream, GROUP)
    assert summary["pending"] == 30
    assert [(c["name"], int(c["pending"])) for c in summary["consumers"]] == [("doomed", 30)]
    assert {user: world.repo.status(user) for user in users} == before

    # a worker that waits 5 s before taking over leaves them alone: "doomed" might just be slow
    patient = worker(world, "patient").run_once()
    assert (patient.claimed, patient.read) == (0, 0)

    rescued = worker(world, "rescuer", claim_idle_ms=0).run_once()
    assert (rescued.claimed, rescued.read, rescued.applied, rescued.acknowledged) == (30, 30, 6, 30)
    assert {user: world.repo.status(user) for user in users} == last
    assert_queue_empty(world)


def test_wait_until_empty_returns_once_the_thread_has_drained_the_queue(world):
    pattern = writer(world)
    last = write_round_robin(pattern, USERS[20:25], 40)
    background = worker(world, "thread")
    assert background.wait_until_empty(timeout_s=0) is False  # nothing running: 40 still wait
    background.start(block_ms=20)
    try:
        assert background.wait_until_empty(timeout_s=10) is True
    finally:
        background.stop()
    assert {user: world.repo.status(user) for user in last} == last
    assert_queue_empty(world)
    with pytest.raises(ValueError):
        background.wait_until_empty(timeout_s=-1)


def test_an_older_entry_applied_after_a_newer_one_changes_nothing(world):
    pattern = writer(world)
    user = USERS[7]
    old = write(pattern, user, "old")
    new = write(pattern, user, "new")
    assert new > old

    slow, fast = worker(world, "slow", batch=1), worker(world, "fast", batch=1)
    stalled = slow._read_new(None)                      # slow takes the older entry and stalls
    assert int(stalled[0][1]["version"]) == old
    assert fast.run_once().applied == 1                 # fast takes the newer one and applies it
    assert world.repo.status(user) == ("new", new)

    late = slow._apply(stalled, 0)                      # slow wakes up and applies the old one
    assert (late.applied, late.skipped, late.acknowledged) == (0, 1, 1)
    assert world.repo.status(user) == ("new", new)
    assert world.repo.apply_status_updates({user: ("new, redelivered", new)}, world.clock.now_ms()) == 0
    assert world.repo.status(user) == ("new", new)
    assert_queue_empty(world)


MALFORMED = {
    "missing fields": {"junk": "1"},
    "version not a number": {"user_id": "u000003", "version": "v2", "value": '"x"'},
    "value not JSON": {"user_id": "u000003", "version": "9", "value": "not json"},
    "bad user id": {"user_id": "no such user!", "version": "9", "value": '"x"'},
    # these parse, but the database refuses them: one would fail every batch it is in, forever
    "value null": {"user_id": "u000003", "version": "9", "value": "null"},
    "value too long": {"user_id": "u000003", "version": "9", "value": json.dumps("x" * 257)},
    "version past BIGINT": {"user_id": "u000003", "version": str(2 ** 70), "value": '"x"'},
    # and lag() must not trip over it either
    "bad enqueued_ms": {"user_id": "u000003", "version": "?", "value": '"x"', "enqueued_ms": "soon"},
}


@pytest.mark.parametrize("fields", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_entry_is_acknowledged_and_dropped_with_a_warning(world, fields, caplog):
    pattern = writer(world)
    drainer = worker(world, "w")
    bad_id = world.redis.xadd(drainer.stream, fields)   # first in the stream: the one lag() looks at
    write(pattern, "u000003", "before")
    after = write(pattern, "u000003", "after")
    assert drainer.lag().waiting == 3

    with caplog.at_level(logging.WARNING, logger="whatsapp_cache"):
        result = drainer.run_once()

    assert (result.read, result.applied, result.acknowledged) == (3, 1, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(bad_id in message and "malformed" in message for message in warnings), warnings
    assert world.repo.status("u000003") == ("after", after)
    assert_queue_empty(world)


def test_lag_counts_waiting_entries_and_the_age_of_the_oldest(world):
    pattern = writer(world)
    drainer = worker(world, "w")
    assert drainer.lag() == QueueLag(0, 0)

    first = world.clock.now_ms()
    pattern.set(USERS[0], "a")
    world.clock.advance(1_000)
    pattern.set(USERS[1], "b")
    world.clock.advance(2_500)
    pattern.set(USERS[0], "c")
    world.clock.advance(10_000)
    assert drainer.lag() == QueueLag(3, world.clock.now_ms() - first)

    taken = drainer._read_new(None)                     # read but not acknowledged: still waiting
    assert drainer.lag() == QueueLag(3, world.clock.now_ms() - first)
    drainer._apply(taken, 0)
    assert drainer.lag() == QueueLag(0, 0)


# -- the command line ---------------------------------------------------------------------------

def test_worker_help_explains_what_it_does(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for words in ("XAUTOCLAIM", "XREADGROUP", "coalesces", "WHERE version < new", "XACK", "--claim-idle-ms",
                  "--consumer", "--once", "--drain", "SIGTERM", "WHATSAPP_CACHE_REDIS_URL"):
        assert words in text


SECRET = "s3cretpw"
BAD_SETUPS = {
    "no backends": [],
    "Redis refuses": ["--redis-url", f"redis://:{SECRET}@127.0.0.1:1/0",
                      "--database-url", f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x"],
    "Redis URL unparseable": ["--redis-url", f"redis://:{SECRET}@127.0.0.1:notaport/0",
                              "--database-url", f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x"],
    "not a Redis URL": ["--redis-url", f"http://u:{SECRET}@example.com", "--database-url", "sqlite://"],
    "no such driver": ["--redis-url", f"redis://:{SECRET}@127.0.0.1:1/0",
                       "--database-url", f"postgresql+nodriver://u:{SECRET}@127.0.0.1/x"],
    "bad namespace": ["--redis-url", "redis://127.0.0.1:1/0", "--database-url", "sqlite://",
                      "--namespace", "a b"],
    "block too long": ["--redis-url", "redis://127.0.0.1:1/0", "--database-url", "sqlite://",
                       "--block-ms", "60000"],
}


@pytest.mark.parametrize("setup", list(BAD_SETUPS.values()), ids=list(BAD_SETUPS))
def test_worker_setup_errors_are_one_line_without_passwords(setup, capsys):
    assert main(["worker", "--once", *setup]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("whatsapp-cache: error: ") and err.count("\n") == 1, err
    assert SECRET not in err and "Traceback" not in err


@LIVE_ONLY
def test_worker_database_errors_are_one_line_without_passwords(make_world, live_redis_url, live_database_url,
                                                               capsys):
    make_world().repo.drop_schema()                     # a database without the course tables
    server, database = live_database_url.rsplit("/", 1)
    server = server.replace("@", f":{SECRET}@", 1) if "@" in server else server
    for database_url, expected in ((f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/x", "OperationalError"),
                                   (f"{server}/no_such_database", "does not exist"),
                                   (f"{server}/{database}", "course tables")):
        assert main(["worker", "--once", "--redis-url", live_redis_url, "--database-url", database_url]) == 2
        err = capsys.readouterr().err
        assert err.startswith("whatsapp-cache: error: ") and err.count("\n") == 1, err
        assert expected in err and SECRET not in err and "***" in err


@LIVE_ONLY
def test_worker_once_and_drain_from_the_command_line(make_world, live_redis_url, live_database_url, capsys):
    world = make_world()
    last = write_round_robin(writer(world), USERS[20:25], 60)
    worker(world, "doomed", batch=10)._read_new(None)  # 10 entries pending for a worker that died
    base = ["worker", "--redis-url", live_redis_url, "--database-url", live_database_url, "--consumer", "cli"]

    assert main(base + ["--once", "--batch", "20"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    once = json.loads(out)
    assert once == {"claimed": 0, "read": 20, "applied": 5, "skipped": 0, "acknowledged": 20, "coalesced": 15}

    assert main(base + ["--drain", "--batch", "20", "--claim-idle-ms", "0"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    totals = json.loads(out)
    assert (totals["claimed"], totals["read"], totals["acknowledged"]) == (10, 40, 40)
    assert {user: world.repo.status(user) for user in last} == last
    assert_queue_empty(world)

    assert main(base + ["--once"]) == 0
    assert json.loads(capsys.readouterr().out)["read"] == 0


# -- the acceptance test: worker processes killed in the middle of a stream of writes ----------

UPDATES = 3000
CRASH_USERS = USERS[30:60]


def wait_for(condition, timeout_s: float, what: str):
    """Poll `condition` until it returns something true; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


@LIVE_ONLY
def test_killed_workers_lose_no_update_and_apply_none_out_of_order(make_world, live_redis_url, live_database_url,
                                                                   tmp_path, figures):
    world = make_world(clock=SystemClock())             # loads the tiny data set first
    pattern = writer(world)
    stream = world.keys.write_behind_stream()
    rng = random.Random(9)
    processes: dict[str, tuple[subprocess.Popen, object, object]] = {}

    def start(name: str) -> str:
        out, err = open(tmp_path / f"{name}.out", "w"), open(tmp_path / f"{name}.err", "w")
        command = [sys.executable, "-m", "whatsapp_cache", "worker", "--redis-url", live_redis_url,
                   "--database-url", live_database_url, "--namespace", world.keys.namespace, "--consumer", name,
                   "--claim-idle-ms", "300", "--block-ms", "50"]
        processes[name] = (subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL), out, err)
        return name

    def consumers() -> dict[str, int]:
        return {c["name"]: int(c["pending"]) for c in world.redis.xinfo_consumers(stream, GROUP)}

    def is_up(name: str) -> bool:
        """The worker has printed its start line: connected, signal handlers in place, about to read.

        (Not "listed by XINFO CONSUMERS": Redis 7.0 creates the consumer only once it is served.)
        """
        if processes[name][0].poll() is not None:
            raise AssertionError(f"worker {name} exited: {(tmp_path / f'{name}.err').read_text()}")
        return f"write-behind worker {name}:" in (tmp_path / f"{name}.err").read_text()

    last: dict[str, tuple[str, int]] = {}
    kills: list[tuple[str, str, int]] = []              # (worker, how, entries it died holding)
    written = 0
    slots = [start("w00"), start("w01")]
    lock = None
    try:
        while written < UPDATES:
            chunk = min(UPDATES - written, rng.randint(150, 300))
            # Every other round, and the last: hold a lock on one user's row, so a worker that reads
            # that user's entry hangs in its UPDATE with the batch read but not acknowledged; then
            # kill the worker holding the OLDEST entry while the other goes on with newer ones, so
            # its entries come back (after 300 ms idle) after newer ones for the same users landed:
            # the seed's "two workers apply one user's updates out of order".
            stuck = len(kills) % 2 == 0 or written + chunk == UPDATES
            if stuck:
                for name in slots:
                    wait_for(lambda: is_up(name), 30, f"worker {name} to start")
                wait_for(lambda: world.redis.xlen(stream) == 0, 30, "the workers to catch up")
                lock = world.engine.connect()
                lock.begin()
                lock.execute(select(schema.users.c.id).where(schema.users.c.id == CRASH_USERS[0]).with_for_update())
            for n in range(chunk):
                user = CRASH_USERS[0] if n == 0 else rng.choice(CRASH_USERS)
                text = f"update {written} to {user}"
                last[user] = (text, write(pattern, user, text))
                written += 1

            if stuck:
                def oldest_holder():
                    oldest = world.redis.xpending_range(stream, GROUP, min="-", max="+", count=1)
                    return oldest and oldest[0]["consumer"] in slots and oldest[0]["consumer"]

                def settled():  # both workers hang, or one hangs having taken all there was
                    lag = next(g for g in world.redis.xinfo_groups(stream) if g["name"] == GROUP)["lag"]
                    return oldest_holder() and (lag == 0 or all(consumers().get(name) for name in slots))

                wait_for(settled, 30, "a worker to hang holding the oldest entry")
                victim = oldest_holder()
            else:
                victim = slots[len(kills) % len(slots)]
                wait_for(lambda: is_up(victim), 30, f"worker {victim} to start")
                time.sleep(rng.uniform(0, 0.03))        # anywhere in its loop
            held = consumers().get(victim, 0)
            processes[victim][0].send_signal(signal.SIGKILL)
            processes[victim][0].wait(5)
            kills.append((victim, "mid-batch" if stuck else "anywhere", held))
            if lock is not None:
                lock.rollback()
                lock.close()
                lock = None
            slots[slots.index(victim)] = start(f"w{len(kills) + 1:02d}")

        # the survivors take over what the dead left pending (after 300 ms idle) and empty the stream
        for name in slots:
            wait_for(lambda: is_up(name), 30, f"worker {name} to start")
        wait_for(lambda: world.redis.xlen(stream) == 0, 60, "the workers to empty the stream")

        reports = []
        for name in slots:
            process = processes[name][0]
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0, (tmp_path / f"{name}.err").read_text()
            reports.append(json.loads((tmp_path / f"{name}.out").read_text().strip().splitlines()[-1]))
        final = WriteBehindWorker(world.redis, world.repo, world.keys, SystemClock(), consumer="final",
                                  claim_idle_ms=0).drain()
        reports.append(vars(final))
    finally:
        if lock is not None:
            lock.rollback()
            lock.close()
        for process, out, err in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(5)
            out.close()
            err.close()

    assert_queue_empty(world)
    rows = {user: world.repo.status(user) for user in CRASH_USERS}
    at_last_version = sum(rows[user][1] == version for user, (_text, version) in last.items())
    for name in processes:
        assert "Traceback" not in (tmp_path / f"{name}.err").read_text(), name

    summed = {field: sum(report[field] for report in reports)
              for field in ("read", "claimed", "applied", "skipped", "acknowledged")}
    holding = [held for _name, _how, held in kills if held]
    figures(f"write-behind crash test: {written} updates to {len(last)} users; "
          f"{len(kills)} workers SIGKILLed ({sum(how == 'mid-batch' for _n, how, _h in kills)} hung mid-batch), "
          f"{len(holding)} of them holding {sum(holding)} read but unacknowledged entries "
          "(an entry redelivered to a worker killed later counts again)")
    figures(f"  surviving workers ({len(reports) - 1}) + final in-process drain: "
          + ", ".join(f"{field} {value}" for field, value in summed.items())
          + " (the killed workers cannot report)")
    figures(f"  database: {at_last_version}/{len(last)} users at the version of their last write")

    assert written == UPDATES and len(last) == len(CRASH_USERS)
    assert len(kills) >= 10
    assert kills[-1][1] == "mid-batch" and summed["claimed"] > 0  # what the last victim held was redelivered
    assert rows == last                                # every user: the text and version of the LAST write
    assert at_last_version == len(last)
