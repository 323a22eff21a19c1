"""Persistence on a throw-away redis-server: what survives a restart with RDB, with AOF, and with neither.

    write 100 keys -> [RDB: SAVE] -> write 50 more -> crash (SIGKILL) or shutdown (SIGTERM) -> start again -> count

Each run gets a server of its own on a free loopback port and a directory of its own, which the
restart reuses (that directory is where dump.rdb and appendonlydir/ live), and which is removed
at the end. Redis' persistence, per https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/:
RDB writes a point-in-time snapshot (at `save` points, or on SAVE/BGSAVE); AOF appends every write
and replays it at start. A shutdown (SIGTERM, SHUTDOWN) saves a snapshot when save points are
configured (https://redis.io/docs/latest/commands/shutdown/); a crash saves nothing.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from .process import HOST, RedisProcess

# How each mode configures the server (the options come after the lab's own, so they win).
MODES = {
    "off": ("--save", "", "--appendonly", "no"),
    "rdb": ("--save", "3600 1", "--appendonly", "no"),  # a save point far away: only SAVE or a shutdown writes
    "aof": ("--save", "", "--appendonly", "yes", "--appendfsync", "always"),
}
STOPS = ("crash", "shutdown")
# The lessons' runs: mode, how the server stops, whether an RDB snapshot is taken between the two batches.
SCENARIOS = (("off", "shutdown", False), ("rdb", "crash", True), ("rdb", "shutdown", False), ("aof", "crash", False))


class PersistentRedis(RedisProcess):
    """A lab redis-server whose persistence is set by its own arguments (MODES) instead of being forced off."""

    common_options = ("--bind", HOST, "--repl-diskless-sync-delay", "0")


@dataclass(frozen=True)
class PersistenceRun:
    """What one restart kept: keys written before and after the snapshot point, keys found after."""

    mode: str
    stop: str
    snapshot: bool
    written: int
    survived: int
    files: tuple[str, ...]

    @property
    def lost(self) -> int:
        return self.written - self.survived

    def describe(self) -> str:
        how = f"{self.mode} + SAVE" if self.snapshot else self.mode
        files = ", ".join(self.files) or "none"
        return (f"{how:<10} {self.stop:<8} written {self.written:>3}, after restart {self.survived:>3}, "
                f"lost {self.lost:>3}  files: {files}")


def run(mode: str, stop: str, snapshot: bool = False, before: int = 100, after: int = 50) -> PersistenceRun:
    """Write `before` keys, optionally SAVE, write `after` more, stop the server as `stop` says, restart, count."""
    _check(mode, stop, before, after)
    home = Path(tempfile.mkdtemp(prefix="whatsapp_cache_persistence_"))
    server = PersistentRedis(*MODES[mode], home=home)
    try:
        server.start()
        _write(server, 0, before)
        if snapshot:
            server.client().save()  # a foreground snapshot, as a save point's BGSAVE would take
        _write(server, before, before + after)
        _stop(server, stop)
        server.start()
        with server.client() as client:
            survived = client.dbsize()
        return PersistenceRun(mode, stop, snapshot, before + after, survived, _files(home))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def lesson() -> list[PersistenceRun]:
    """The four runs the primer shows: off, RDB then a crash, RDB and a shutdown, AOF then a crash."""
    return [run(mode, stop, snapshot) for mode, stop, snapshot in SCENARIOS]


def describe(runs: list[PersistenceRun]) -> str:
    return "\n".join(r.describe() for r in runs)


def _check(mode: str, stop: str, before: int, after: int) -> None:
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    if stop not in STOPS:
        raise InvalidInput(f"stop must be one of {list(STOPS)}, got {stop!r}")
    for name, count in (("before", before), ("after", after)):
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
            raise InvalidInput(f"{name} must be an integer from 0 to 100000")


def _write(server: RedisProcess, first: int, last: int) -> None:
    """Keys first..last-1 in one pipeline (one round trip)."""
    with server.client() as client:
        pipe = client.pipeline(transaction=False)
        for i in range(first, last):
            pipe.set(f"key:{i}", f"value {i}")
        pipe.execute()


def _stop(server: RedisProcess, stop: str) -> None:
    """A crash is SIGKILL (nothing saved); a shutdown is SIGTERM, which saves if save points are set."""
    if stop == "crash":
        server.kill()
    else:
        server.signal(signal.SIGTERM)
        server.wait_gone(10)


def _files(home: Path) -> tuple[str, ...]:
    """The persistence files in the server's directory (not its logs)."""
    found = [p.relative_to(home).as_posix() for p in home.rglob("*")
             if p.is_file() and (p.name == "dump.rdb" or "appendonlydir" in p.parts)]
    return tuple(sorted(found))
