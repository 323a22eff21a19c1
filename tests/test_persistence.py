"""Persistence on a throw-away redis-server: what a restart keeps with RDB, with AOF and with neither."""

from __future__ import annotations

import pytest

from support import require_redis_server, running

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.lab import persistence
from whatsapp_cache.lab.process import RedisProcess


@pytest.fixture(autouse=True)
def _binary():
    require_redis_server()


@pytest.mark.live
@pytest.mark.parametrize("mode, stop, snapshot, survived", [
    ("off", "shutdown", False, 0),     # nothing written to disk, even on a clean shutdown
    ("rdb", "crash", True, 100),      # the snapshot, not the 50 writes after it
    ("rdb", "shutdown", False, 150),  # a shutdown with save points saves first
    ("aof", "crash", False, 150),     # every write appended before its reply
])
def test_a_restart_keeps_what_the_mode_wrote_to_disk(mode, stop, snapshot, survived):
    run = persistence.run(mode, stop, snapshot)
    assert (run.written, run.survived, run.lost) == (150, survived, 150 - survived)


@pytest.mark.live
def test_the_files_each_mode_leaves_are_its_own():
    assert persistence.run("off", "shutdown").files == ()
    assert persistence.run("rdb", "crash", True).files == ("dump.rdb",)
    assert any(name.endswith(".incr.aof") for name in persistence.run("aof", "crash").files)


@pytest.mark.live
def test_the_mode_is_not_overridden_by_the_labs_persistence_off_options():
    """The lab's servers force persistence off after their arguments; a PersistentRedis must not."""
    with persistence.PersistentRedis(*persistence.MODES["aof"]) as server:
        assert server.client().config_get("appendonly") == {"appendonly": "yes"}
    with RedisProcess("--appendonly", "yes") as plain:
        assert plain.client().config_get("appendonly") == {"appendonly": "no"}


@pytest.mark.live
def test_a_run_leaves_no_process_and_no_directory(monkeypatch):
    started = []
    original = persistence.PersistentRedis.start

    def spy(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        started.append((self.pid, self.home))
        return result

    monkeypatch.setattr(persistence.PersistentRedis, "start", spy)
    persistence.run("rdb", "crash", True, before=5, after=5)
    assert len(started) == 2
    assert not any(running(pid) for pid, _ in started) and not any(home.exists() for _, home in started)


@pytest.mark.live
def test_the_lesson_describes_each_scenario_in_one_line():
    text = persistence.describe(persistence.lesson())
    lines = text.splitlines()
    assert len(lines) == 4 and "after restart   0" in lines[0] and "after restart 100" in lines[1]


@pytest.mark.parametrize("arguments", [
    {"mode": "everysec", "stop": "crash"}, {"mode": "aof", "stop": "reboot"},
    {"mode": "aof", "stop": "crash", "before": -1}, {"mode": "aof", "stop": "crash", "after": True},
])
def test_bad_arguments_are_refused_before_any_server_starts(arguments):
    with pytest.raises(InvalidInput):
        persistence.run(**arguments)
