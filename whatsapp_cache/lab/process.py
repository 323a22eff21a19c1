"""Throw-away servers on free loopback ports: started, waited for, and signalled only by their own pid.

ServerProcess is the lab's one process manager: it takes a free loopback port, starts the program,
waits until the server on that port answers as this very process, and stops it (SIGTERM, SIGKILL
after STOP_TIMEOUT_S), reaps it and removes a directory of its own. A subclass says only what is
its program's: the command line, and how to ask the server on the port for its pid. Two use it:
RedisProcess (below) and MemcachedProcess (memcached.py).

fakeredis cannot show CLIENT TRACKING, INFO, eviction under maxmemory, WAIT, replication or a cluster;
the lessons that need them and the lab's nodes run real servers, each a RedisProcess:

    with RedisProcess("--maxmemory", "10mb") as server:    # a free port, a temporary directory
        server.client().ping()

Every server listens on 127.0.0.1 with persistence off and keeps its files (log, pid file, cluster
config) in its own directory, so a server killed and restarted comes back empty, like a cache node
that crashed. An in-process server is a child of this process. A detached one (`redis-server
--daemonize yes`, as `cluster up` starts them) outlives it; it is found again from its state (port,
pid, start time) and signalled only after checking that its pid is still a redis-server on that port,
started at that time.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..clock import wait_until
from ..errors import ConfigError, InvalidInput
from ..validation import whole_number

HOST = "127.0.0.1"
# Redis 7 waits 5 s for more replicas before it starts a full sync; a lab has no reason to.
COMMON_OPTIONS = ("--bind", HOST, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
STOP_TIMEOUT_S = 5.0  # SIGTERM, then SIGKILL after this long
REDIS_INSTALL = "this needs real Redis processes (install Redis 7)"


def program_path(program: str, install: str) -> str:
    """The path of `program` on the PATH; a clear ConfigError, saying how to install it, without one."""
    path = shutil.which(program)
    if path is None:
        raise ConfigError(f"no {program} binary on the PATH; {install}")
    return path


def available() -> bool:
    """Whether a redis-server binary is on the PATH."""
    return shutil.which("redis-server") is not None


def binary() -> str:
    """The redis-server binary's path; a clear ConfigError without one."""
    return program_path("redis-server", REDIS_INSTALL)


HANDED_OUT_KEPT = 4096  # ports free_port remembers having given, so it never gives one twice in a row of labs
_handed_out: collections.deque = collections.deque(maxlen=HANDED_OUT_KEPT)
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A loopback port that was free a moment ago (the kernel's choice) and that this process has not
    handed out lately; another program may still take it.

    Two labs started side by side (chapter 08's two WAIT runs, in two threads) each probe for free
    ports before their servers bind them: without the memory, both could be given the same one.
    """
    with _handed_out_lock:
        for _ in range(100):
            with socket.socket() as probe:
                probe.bind((HOST, 0))
                port = probe.getsockname()[1]
            if port not in _handed_out:
                _handed_out.append(port)
                return port
    raise ConfigError(f"no free port on {HOST} that was not handed out already")


def connect(port: int) -> redis.Redis:
    """A client of the local server on `port` with short timeouts and no retries (a lab asks, it does not wait)."""
    return redis.Redis(HOST, port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1,
                       retry=Retry(NoBackoff(), 0))


# --- processes, by pid --------------------------------------------------------------------------

def _command_words(pid: int) -> list[str]:
    """The command line of pid as words ([] if it is gone or a zombie)."""
    if not Path("/proc/self").is_dir():  # not Linux: ask ps
        done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
        return done.stdout.split()
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.replace(b"\0", b" ").decode(errors="replace").split()


def _start_time(pid: int) -> int | None:
    """When pid started, in clock ticks after boot (field 22 of /proc/<pid>/stat); None if unknown."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_lab_redis(pid: int, port: int, started: int | None = None) -> bool:
    """Whether pid is a running redis-server on `port` (and, if `started` is given, the one started then)."""
    words = _command_words(pid)
    if not words or Path(words[0]).name != "redis-server":
        return False
    # Redis renames itself "redis-server 127.0.0.1:<port> [cluster]"; before that argv still has --port.
    on_port = words[1:2] == [f"{HOST}:{port}"] or ("--port", str(port)) in zip(words, words[1:])
    return on_port and (started is None or _start_time(pid) in (started, None))


def _signal_if_ours(pid: int, ours: Callable[[], bool], sig: int) -> bool:
    """Send sig to pid only if ours() still says it is the lab's server; False if gone or someone else."""
    try:
        pidfd = os.pidfd_open(pid)  # pins this very process, so a pid reused after the check cannot be hit
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):
        pidfd = None  # no pidfd here: check, then signal by pid
    try:
        if not ours():
            return False
        if pidfd is None:
            os.kill(pid, sig)
        else:
            signal.pidfd_send_signal(pidfd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


# --- one server, any program --------------------------------------------------------------------

class ServerProcess:
    """One server program on 127.0.0.1:<port>; start() it, or use it as a context manager.

    A subclass gives `program` (its binary's name), command() and server_pid(). `args` are extra
    arguments for command(). Without `port` it takes a free one, and a start that fails there is
    tried again on a new free port, `attempts` times in all (a free port may be taken by another
    program before the server binds it). Without `home`, a temporary directory of its own (its
    stderr.log) that stop() removes.
    """

    program = "server"
    home_prefix = "whatsapp_cache_server_"  # of the temporary directory made without `home`
    log_files: tuple[str, ...] = ("stderr.log",)  # in `home`: their last lines explain a failed start

    def __init__(self, *args: str, port: int | None = None, home: Path | None = None, startup_timeout_s: float = 10.0,
                 attempts: int = 1, pid: int | None = None, started: int | None = None):
        self.args = list(args)
        self._port_given = port is not None
        self.port = port or free_port()
        self.home = home
        self.startup_timeout_s = startup_timeout_s
        self.attempts = whole_number(attempts, "attempts", 1, 10)
        self.pid, self.started = pid, started  # known once it answers (or, detached, from its state)
        self.process: subprocess.Popen | None = None  # our own child, unless detached
        self.paused = False
        self._own_home = home is None

    def command(self) -> list[str]:
        """The program's command line on self.port (and, if it writes files, in self.home)."""
        raise NotImplementedError

    def server_pid(self) -> int | None:
        """The pid the server on self.port reports about itself; None if nothing there answers."""
        raise NotImplementedError

    def start(self, detached: bool = False):
        """Start the server and return once it answers as our process; a ConfigError (with its log) if not.

        Nothing is left running after an error. A port this object chose itself is replaced by a
        new free one for each further attempt.
        """
        if self.alive():
            raise ConfigError(f"{self.program} on port {self.port} is still running; kill() or stop() it first")
        for attempt in range(1 if self._port_given else self.attempts):
            if attempt:
                self.port = free_port()
            try:
                return self._start_once(detached)
            except ConfigError:
                if self._port_given or attempt == self.attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, detached: bool):
        self.launch(detached)
        try:
            self.wait_ready(time.monotonic() + self.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self, detached: bool = False) -> None:
        """Start the program as our child and return at once (wait_ready() waits for it)."""
        if detached:
            raise InvalidInput(f"a {self.program} of the lab runs only as a child of this process")
        self._prepare()
        with open(self.home / "stderr.log", "ab") as errors:
            self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=errors)

    def _prepare(self) -> None:
        """Before a launch: a directory (a temporary one of our own without `home`), no pid, not paused."""
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix=self.home_prefix))
        self.home.mkdir(parents=True, exist_ok=True)
        self.pid = self.started = None
        self.paused = False

    def wait_ready(self, deadline: float) -> None:
        """Return once our own process answers on the port; a clear error, with its log, if it never does."""
        while not self._answering():
            if self.process is not None and self.process.poll() is not None:
                raise ConfigError(f"{self.program} on port {self.port} exited at start{self._log_tail()}")
            if time.monotonic() > deadline:
                raise ConfigError(f"{self.program} on port {self.port} did not answer in time{self._log_tail()}")
            time.sleep(0.02)
        self.pid = self._expected_pid()
        self.started = _start_time(self.pid)

    def _answering(self) -> bool:
        """Whether the server on the port is ours (not another one that took the port first)."""
        expected = self._expected_pid()
        return expected is not None and self.server_pid() == expected

    def _expected_pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def _log_tail(self) -> str:
        lines = []
        for name in self.log_files:
            path = self.home / name
            lines += path.read_text(errors="replace").splitlines()[-3:] if path.exists() else []
        return (": " + " | ".join(line.strip() for line in lines if line.strip())) if lines else ""

    def _still_ours(self) -> bool:
        """Whether self.pid, a server that is not our child, is still the one we started (only Redis detaches)."""
        return False

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and self._still_ours()

    def signal(self, sig: int) -> bool:
        """Send sig to our own process if it still runs; whether it was sent."""
        if self.process is not None:
            if self.process.poll() is not None:
                return False
            self.process.send_signal(sig)
            return True
        return self.pid is not None and _signal_if_ours(self.pid, self._still_ours, sig)

    def wait_gone(self, timeout_s: float) -> bool:
        """Wait until the process has exited (a zombie counts: its parent reaps it); whether it did."""
        if self.process is not None:
            try:
                self.process.wait(timeout_s)
                return True
            except subprocess.TimeoutExpired:
                return False
        return wait_until(lambda: not self.alive(), timeout_s)

    def _send(self, sig: int, what: str) -> None:
        if not self.signal(sig):
            raise ConfigError(f"{self.program} on port {self.port} is not running; cannot {what} it")

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown; wait until the process is gone."""
        self._send(signal.SIGKILL, "kill")
        self.wait_gone(5)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a hung server); resume() it."""
        self._send(signal.SIGSTOP, "pause")
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after pause(); it answers again with its data intact."""
        self._send(signal.SIGCONT, "resume")
        self.paused = False

    def stop(self) -> bool:
        """Stop our own process (SIGTERM, SIGKILL after 5 s) and wait for it; a directory of our own goes too.

        Returns whether it was signalled; a process already gone (or whose pid is now another program's)
        is left alone.
        """
        if self.paused and self.alive():
            self.resume()  # a stopped process would hold SIGTERM until continued
        signalled = self.signal(signal.SIGTERM)
        if signalled and not self.wait_gone(STOP_TIMEOUT_S):
            self.signal(signal.SIGKILL)
            self.wait_gone(5)
        self.process, self.paused = None, False
        self.pid = self.started = None
        if self._own_home and self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
        return signalled

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = ("paused" if self.paused else "running") if self.alive() else "stopped"
        return f"{type(self).__name__}(port={self.port}, {state})"


# --- one redis-server ---------------------------------------------------------------------------

class RedisProcess(ServerProcess):
    """A redis-server on 127.0.0.1:<port>, persistence off; start() it, or use it as a context manager.

    `args` are extra redis-server arguments (a config file first, if any). Without `port` it takes a
    free one; without `home`, a temporary directory of its own that stop() removes. A lab passes each
    node's port, directory and role, and restores detached nodes from their state (pid, start time).
    """

    program = "redis-server"
    home_prefix = "whatsapp_cache_redis_"
    log_files = ("stderr.log", "redis.log")
    common_options: tuple[str, ...] = COMMON_OPTIONS  # after `args`: a subclass may leave persistence to them

    def __init__(self, *args: str, port: int | None = None, home: Path | None = None, role: str = "server",
                 startup_timeout_s: float = 10.0, attempts: int = 1, pid: int | None = None,
                 started: int | None = None):
        binary()
        super().__init__(*args, port=port, home=home, startup_timeout_s=startup_timeout_s, attempts=attempts,
                         pid=pid, started=started)
        self.role = role

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self, **options) -> redis.Redis:
        return redis.Redis(HOST, self.port, decode_responses=True, **options)

    def command(self) -> list[str]:
        """redis-server on the port, persistence off (common_options), its files and log in `home`."""
        return [binary(), *self.args, "--port", str(self.port), *self.common_options, "--dir", str(self.home),
                "--logfile", str(self.home / "redis.log")]

    def server_pid(self) -> int | None:
        """INFO's process_id of the server on the port; None if none answers."""
        try:
            with connect(self.port) as client:
                return client.info("server")["process_id"]
        except redis.RedisError:
            return None

    def restart(self) -> "RedisProcess":
        """Start again on the same port after kill() or stop(); returns once it answers PING."""
        return self.start()

    def launch(self, detached: bool = False) -> None:
        """Start redis-server and return at once; detached, it daemonizes and outlives this process."""
        if not detached:
            return super().launch()
        self._prepare()
        self.process = None
        pidfile = self.home / "redis.pid"
        pidfile.unlink(missing_ok=True)
        with open(self.home / "stderr.log", "ab") as errors:
            done = subprocess.run([*self.command(), "--daemonize", "yes", "--pidfile", str(pidfile)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, timeout=10)
        if done.returncode != 0:
            raise ConfigError(f"redis-server on port {self.port} did not start{self._log_tail()}")

    def _expected_pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        try:
            return int((self.home / "redis.pid").read_text())
        except (OSError, TypeError, ValueError):
            return None

    def _still_ours(self) -> bool:
        return is_lab_redis(self.pid, self.port, self.started)

    def to_state(self) -> dict:
        return {"port": self.port, "pid": self.pid, "started": self.started, "role": self.role,
                "home": str(self.home), "args": self.args}

    @classmethod
    def from_state(cls, state: dict) -> "RedisProcess":
        """A server another process started detached, reached by its recorded pid, port and start time."""
        return cls(*state["args"], port=state["port"], home=Path(state["home"]), role=state["role"],
                   pid=state["pid"], started=state["started"])
