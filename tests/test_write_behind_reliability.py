"""The write-behind worker's run loop (its thread and the CLI) outlasting Redis and the database going away.

Before, the thread caught only ConnectionError, so a timeout while idle, NOGROUP after
Redis came back empty, or any database error ended it silently, and acknowledged writes
never reached the database. Here each failure is forced for real: a throw-away
redis-server hung (SIGSTOP) or killed and restarted empty under the running thread, a
database that fails for a few passes (or, on PostgreSQL, loses its table for a while).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import pytest
import redis
from sqlalchemy.exc import OperationalError

from whatsapp_cache import World
from whatsapp_cache.clock import SystemClock
from whatsapp_cache.errors import InvalidInput, WhatsAppCacheError
from whatsapp_cache.lab.process import RedisProcess
from whatsapp_cache.patterns.write_behind import WorkerState, block_limit_ms
from whatsapp_cache.resilience import FailurePolicy

from support import require_redis_server
from test_write_behind_worker import (LIVE_ONLY, USERS, assert_queue_empty, wait_for, worker, write,
                                      write_round_robin, writer)

SHORT = FailurePolicy(timeout_s=0.2, connect_timeout_s=0.2)
SECRET = "s3cretpw"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.live)])
def database_url(request):
    """The database behind a throw-away Redis: SQLite in memory, or the live PostgreSQL."""
    return None if request.param == "sqlite" else request.getfixturevalue("live_database_url")


@pytest.fixture
def server():
    require_redis_server()
    with RedisProcess() as server:
        yield server


@pytest.fixture
def make_server_world(server, database_url):
    """Worlds on the throw-away redis-server (real time: the worker waits for real); schema dropped after."""
    worlds = []

    def build(policy: FailurePolicy | None = None) -> World:
        world = World(server.url, database_url, dataset="tiny", clock=SystemClock(), failure_policy=policy)
        worlds.append(world)
        return world

    yield build
    for world in worlds:
        world.repo.drop_schema()
        world.close()


def at_last_write(world, last: dict[str, tuple[str, int]]) -> bool:
    return {user: world.repo.status(user) for user in last} == last


def wait_until_drained(world, timeout_s: float = 10) -> None:
    """Until every entry is applied and acknowledged (watched in Redis: the database is not read meanwhile,
    as one in-memory SQLite connection is not for two threads at once)."""
    stream = world.keys.write_behind_stream()
    wait_for(lambda: world.redis.xlen(stream) == 0, timeout_s, "the worker to empty the stream")


def worker_messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and "write-behind worker" in r.getMessage()]


# -- Redis: idle timeouts, hung, killed and restarted empty -------------------------------------

@pytest.mark.live
@pytest.mark.parametrize("policy, block_ms", [(SHORT, 100), (SHORT, 600), (FailurePolicy(), 600)],
                         ids=["0.2 s timeout, block 100", "0.2 s timeout, block 600", "default policy, block 600"])
def test_the_thread_waits_idle_past_the_client_timeout_then_applies_a_write(make_server_world, policy, block_ms):
    world = make_server_world(policy)
    thread = worker(world, "idle")
    thread.start(block_ms=block_ms)
    try:
        time.sleep(2.0)                                 # idle for many blocks
        version = write(writer(world), USERS[1], "after a quiet spell")
        wait_until_drained(world, 5)
        running = thread.running
    finally:
        thread.stop()
    state = thread.state()  # after the last pass has ended
    assert world.repo.status(USERS[1]) == ("after a quiet spell", version)
    assert running and state.passes >= 3
    assert (state.failures, state.last_error, state.backlog) == (0, None, 0)  # waiting idle is no failure


@pytest.mark.live
def test_the_thread_outlasts_a_hung_redis_and_catches_up(make_server_world, server, caplog):
    world = make_server_world(SHORT)
    pattern = writer(world)
    thread = worker(world, "patient")
    thread.start(block_ms=100)
    try:
        with caplog.at_level(logging.DEBUG, logger="whatsapp_cache"):
            last = write_round_robin(pattern, USERS[:5], 50)   # the thread may be mid-batch when Redis hangs
            server.pause()
            time.sleep(1.5)
            hung = thread.state()
            server.resume()
            last.update(write_round_robin(pattern, USERS[3:8], 50))
            wait_until_drained(world)
        running = thread.running
    finally:
        thread.stop()
    state = thread.state()  # after the last pass has ended
    assert at_last_write(world, last)
    assert hung.running and hung.failures_in_a_row > 0 and hung.backlog is None  # Redis did not answer state()
    assert running and state.failures_in_a_row == 0 and state.last_error.startswith("Redis: TimeoutError")
    assert_queue_empty(world)
    warnings = worker_messages(caplog, logging.WARNING)
    assert len(warnings) == 2 and "TimeoutError" in warnings[0] and "working again" in warnings[1], warnings


@pytest.mark.live
def test_the_thread_outlasts_redis_killed_and_restarted_empty(make_server_world, server, caplog):
    world = make_server_world()
    pattern = writer(world)
    thread = worker(world, "survivor")
    thread.start(block_ms=100)
    try:
        first = write(pattern, USERS[2], "before the crash")
        wait_until_drained(world, 5)
        with caplog.at_level(logging.DEBUG, logger="whatsapp_cache"):
            server.kill()
            wait_for(lambda: thread.state().failures_in_a_row >= 3, 10, "a few failed passes")
            down = thread.state()
            server.restart()                            # empty: no stream, no group
            after = write(pattern, USERS[2], "after the restart")  # XADD makes the stream again, without the group
            wait_until_drained(world)
        running = thread.running
    finally:
        thread.stop()
    state = thread.state()  # after the last pass has ended
    assert world.repo.status(USERS[2]) == ("after the restart", after) and after > first
    assert down.running and down.last_error.startswith("Redis: ConnectionError") and down.backlog is None
    assert running and state.failures_in_a_row == 0 and "NOGROUP" in state.last_error
    assert (state.backlog, state.oldest_age_ms) == (0, 0)
    assert_queue_empty(world)
    warnings = worker_messages(caplog, logging.WARNING)  # each problem once, then the recovery
    assert len(warnings) == 3, warnings
    assert "ConnectionError" in warnings[0] and "retrying" in warnings[0]
    assert "NOGROUP" in warnings[1] and "creating the group again" in warnings[1]
    assert "working again" in warnings[2]
    repeats = worker_messages(caplog, logging.DEBUG)
    assert sum("ConnectionError" in message for message in repeats) >= 2  # the same failure again: DEBUG only


# -- the database: injected on every backend, real on PostgreSQL -------------------------------

def test_entries_stay_pending_while_the_database_fails_and_land_in_order_after(world, monkeypatch, caplog):
    pattern = writer(world)
    apply = world.repo.apply_status_updates
    refused = []

    def failing(updates, now_ms):
        if len(refused) < 3:
            refused.append(len(updates))
            raise OperationalError("UPDATE users ...", {}, Exception("server closed the connection unexpectedly"))
        return apply(updates, now_ms)

    monkeypatch.setattr(world.repo, "apply_status_updates", failing)
    # never waits claim_idle_ms: a failed pass's entries come back because they are its own
    thread = worker(world, "steady", claim_idle_ms=600_000)
    last = write_round_robin(pattern, USERS[:6], 30)
    with caplog.at_level(logging.DEBUG, logger="whatsapp_cache"):
        thread.start(block_ms=50)
        try:
            wait_for(lambda: refused, 5, "the database to refuse a batch")
            failing_state = thread.state()
            last.update(write_round_robin(pattern, USERS[3:9], 30))  # newer versions while it fails
            wait_until_drained(world)
            running = thread.running
        finally:
            thread.stop()
    state = thread.state()  # after the last pass has ended
    assert at_last_write(world, last)                  # every user at the version of the last write
    assert_queue_empty(world)
    assert failing_state.running and failing_state.backlog >= 30
    assert failing_state.last_error == "database: Exception: server closed the connection unexpectedly"
    assert (state.failures, state.failures_in_a_row) == (3, 0) and thread.totals.acknowledged >= 60
    assert running and not state.running
    warnings = worker_messages(caplog, logging.WARNING)
    assert len(warnings) == 2 and "database" in warnings[0] and "working again after 3" in warnings[1], warnings


@LIVE_ONLY
def test_a_table_gone_for_a_while_on_postgresql_is_waited_out(make_world):
    world = make_world(clock=SystemClock())
    pattern = writer(world)
    thread = worker(world, "steady", claim_idle_ms=600_000)
    engine = world.repo.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users RENAME TO users_away")
    try:
        last = write_round_robin(pattern, USERS[:6], 30)
        thread.start(block_ms=50)
        wait_for(lambda: thread.state().failures >= 2, 10, "passes failing on the missing table")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE users_away RENAME TO users")
    try:
        wait_until_drained(world)
        running = thread.running
    finally:
        thread.stop()
    state = thread.state()  # after the last pass has ended
    assert at_last_write(world, last)
    assert running and state.failures_in_a_row == 0
    assert state.last_error.startswith("database: UndefinedTable") and "users" in state.last_error
    assert_queue_empty(world)


@pytest.mark.live
def test_errors_are_shown_without_passwords(database_url, caplog, monkeypatch):
    require_redis_server()
    if database_url is not None:                        # PostgreSQL here trusts local users: the password is unused
        server_part, database = database_url.rsplit("/", 1)
        database_url = f"{server_part.replace('postgres@', f'postgres:{SECRET}@')}/{database}"
    with RedisProcess() as server:
        server.client().config_set("requirepass", SECRET)
        world = World(f"redis://:{SECRET}@127.0.0.1:{server.port}/0", database_url, dataset="tiny")
        try:
            def echoing(_updates, _now_ms):             # a driver that echoes its connection string
                raise OperationalError("UPDATE", {}, Exception(f"failed: {database_url} {world.config.redis_url}"))

            monkeypatch.setattr(world.repo, "apply_status_updates", echoing)
            thread = worker(world, "discreet")
            write(writer(world), USERS[0], "x")
            with caplog.at_level(logging.DEBUG, logger="whatsapp_cache"):
                thread.start(block_ms=50)
                try:
                    wait_for(lambda: thread.state().failures >= 2, 10, "failed passes")
                    state = thread.state()
                finally:
                    thread.stop()
        finally:
            world.repo.drop_schema()
            world.close()
    assert "***" in state.last_error and SECRET not in state.last_error
    assert SECRET not in repr(state) and SECRET not in state.describe() and SECRET not in caplog.text


# -- a pass that failed: its own entries come back first ---------------------------------------

def test_a_worker_back_under_its_name_takes_its_own_pending_entries_at_once(world):
    last = write_round_robin(writer(world), USERS[40:43], 9)
    assert len(worker(world, "same")._read_new(None)) == 9   # read, then the process died
    again = worker(world, "same").run_once()                 # restarted at once: no claim_idle_ms to wait
    assert (again.claimed, again.read, again.applied, again.acknowledged) == (9, 9, 3, 9)
    assert at_last_write(world, last)
    assert_queue_empty(world)


def test_an_own_pending_entry_deleted_meanwhile_is_acknowledged_not_applied(world):
    pattern = writer(world)
    before = world.repo.status(USERS[44])
    write(pattern, USERS[44], "deleted before it was applied")
    drainer = worker(world, "w")
    [(entry_id, _)] = drainer._read_new(None)
    world.redis.xdel(drainer.stream, entry_id)                # pending, but its entry is gone
    assert drainer.run_once().read == 0
    assert world.repo.status(USERS[44]) == before
    assert_queue_empty(world)


# -- state, block time, start and stop ---------------------------------------------------------

def test_state_reports_running_passes_and_backlog(world):
    pattern = writer(world)
    thread = worker(world, "watched")
    assert thread.state() == WorkerState("watched", False, 0, 0, 0, None, 0, 0)
    write(pattern, USERS[0], "a")
    world.clock.advance(1_500)
    write(pattern, USERS[1], "b")
    waiting = thread.state()
    assert (waiting.backlog, waiting.oldest_age_ms) == (2, 1_500)
    thread.start(block_ms=50)
    try:
        wait_until_drained(world, 5)
        wait_for(lambda: thread.state().passes, 5, "a pass to be counted")
        running = thread.state()
        with pytest.raises(WhatsAppCacheError, match="already started"):
            thread.start()
    finally:
        thread.stop()
    stopped = thread.state()
    assert running.running and running.passes >= 1 and not stopped.running
    assert stopped.describe().startswith("write-behind worker watched: stopped, ")
    assert "0 failed (0 in a row), 0 waiting" in str(stopped)


def test_block_is_cut_below_the_client_timeout_and_bad_block_times_are_refused(world):
    thread = worker(world, "w")
    for bad in (0, -5, 1.5, "100", True):
        with pytest.raises(InvalidInput):
            thread.start(block_ms=bad)
    limit = block_limit_ms(world.redis)
    assert thread._block_within_timeout(10 ** 6) == (limit if limit is not None else 10 ** 6)


@pytest.mark.parametrize("timeout_s, limit_ms", [(2.0, 1500), (0.5, 275), (0.2, 50), (0.1, 1), (None, None)])
def test_block_limit_leaves_redis_timer_and_the_reply_time(timeout_s, limit_ms):
    client = redis.Redis(socket_timeout=timeout_s)
    assert block_limit_ms(client) == limit_ms
    client.close()


# -- the command line uses the same loop --------------------------------------------------------

@LIVE_ONLY
def test_the_cli_worker_waits_out_a_database_error_and_logs_it_once(make_world, live_redis_url, live_database_url,
                                                                     tmp_path):
    world = make_world(clock=SystemClock())
    pattern = writer(world)
    engine = world.repo.engine
    err = tmp_path / "worker.err"
    command = [sys.executable, "-m", "whatsapp_cache", "worker", "--redis-url", live_redis_url,
               "--database-url", live_database_url, "--namespace", world.keys.namespace, "--consumer", "cli",
               "--block-ms", "50"]
    with open(tmp_path / "worker.out", "w") as out, open(err, "w") as errors:
        process = subprocess.Popen(command, stdout=out, stderr=errors, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: "write-behind worker cli:" in err.read_text(), 10, "the worker to start")
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE users RENAME TO users_away")
        try:
            last = write_round_robin(pattern, USERS[:4], 20)
            wait_for(lambda: err.read_text().count("\n") >= 2 or process.poll() is not None, 10, "a warning")
            time.sleep(1.0)                            # a few more failed passes
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE users_away RENAME TO users")
        wait_until_drained(world)
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    lines = err.read_text().splitlines()
    assert len(lines) == 3, lines                       # started, the failure once, working again
    assert "UndefinedTable" in lines[1] and "retrying" in lines[1] and "working again" in lines[2]
    totals = json.loads((tmp_path / "worker.out").read_text())
    assert totals["acknowledged"] == 20 and at_last_write(world, last)
    assert_queue_empty(world)
