"""One redis-server process on a free loopback port: started, waited for, and signalled only by its own pid.

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

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..clock import wait_until
from ..errors import ConfigError

HOST = "127.0.0.1"
# Redis 7 waits 5 s for more replicas before it starts a full sync; a lab has no reason to.
COMMON_OPTIONS = ("--bind", HOST, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
STOP_TIMEOUT_S = 5.0  # SIGTERM, then SIGKILL after this long


def available() -> bool:
    """Whether a redis-server binary is on the PATH."""
    return shutil.which("redis-server") is not None


def binary() -> str:
    """The redis-server binary's path; a clear ConfigError without one."""
    path = shutil.which("redis-server")
    if path is None:
        raise ConfigError("no redis-server binary on the PATH; this needs real Redis processes (install Redis 7)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


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


def _signal_if_ours(pid: int, port: int, started: int | None, sig: int) -> bool:
    """Send sig to pid only if it is still the lab's redis-server on `port`; False if gone or someone else."""
    try:
        pidfd = os.pidfd_open(pid)  # pins this very process, so a pid reused after the check cannot be hit
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):
        pidfd = None  # no pidfd here: check, then signal by pid
    try:
        if not is_lab_redis(pid, port, started):
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


# --- one server ---------------------------------------------------------------------------------

class RedisProcess:
    """A redis-server on 127.0.0.1:<port>, persistence off; start() it, or use it as a context manager.

    `args` are extra redis-server arguments (a config file first, if any). Without `port` it takes a
    free one; without `home`, a temporary directory of its own that stop() removes. A lab passes each
    node's port, directory and role, and restores detached nodes from their state (pid, start time).
    """

    common_options: tuple[str, ...] = COMMON_OPTIONS  # after `args`: a subclass may leave persistence to them

    def __init__(self, *args: str, port: int | None = None, home: Path | None = None, role: str = "server",
                 startup_timeout_s: float = 10.0, pid: int | None = None, started: int | None = None):
        binary()
        self.args = list(args)
        self.port = port or free_port()
        self.home, self.role = home, role
        self.startup_timeout_s = startup_timeout_s
        self.pid, self.started = pid, started
        self.process: subprocess.Popen | None = None  # our own child, unless detached
        self.paused = False
        self._own_home = home is None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self, **options) -> redis.Redis:
        return redis.Redis(HOST, self.port, decode_responses=True, **options)

    def start(self, detached: bool = False) -> "RedisProcess":
        """Start the server and return once it answers; if it cannot, a ConfigError with its log, nothing left running."""
        if self.alive():
            raise ConfigError(f"redis-server on port {self.port} is still running; kill() or stop() it first")
        self.launch(detached)
        try:
            self.wait_ready(time.monotonic() + self.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self) -> "RedisProcess":
        """Start again on the same port after kill() or stop(); returns once it answers PING."""
        return self.start()

    def launch(self, detached: bool = False) -> None:
        """Start redis-server and return at once; detached, it daemonizes and outlives this process."""
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="whatsapp_cache_redis_"))
        self.home.mkdir(parents=True, exist_ok=True)
        command = [binary(), *self.args, "--port", str(self.port), *self.common_options, "--dir", str(self.home),
                   "--logfile", str(self.home / "redis.log")]
        self.pid = self.started = None
        self.paused = False
        with open(self.home / "stderr.log", "ab") as errors:
            if not detached:
                self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=errors)
                return
            self.process = None
            (self.home / "redis.pid").unlink(missing_ok=True)
            done = subprocess.run([*command, "--daemonize", "yes", "--pidfile", str(self.home / "redis.pid")],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, timeout=10)
        if done.returncode != 0:
            raise ConfigError(f"redis-server on port {self.port} did not start{self._log_tail()}")

    def wait_ready(self, deadline: float) -> None:
        """Return once our own process answers on the port; a clear error, with its log, if it never does."""
        while not self._answering():
            if self.process is not None and self.process.poll() is not None:
                raise ConfigError(f"redis-server on port {self.port} exited at start{self._log_tail()}")
            if time.monotonic() > deadline:
                raise ConfigError(f"redis-server on port {self.port} did not answer in time{self._log_tail()}")
            time.sleep(0.02)
        self.pid = self._expected_pid()
        self.started = _start_time(self.pid)

    def _answering(self) -> bool:
        """Whether the server on the port is ours (not another one that took the port first)."""
        try:
            with connect(self.port) as client:
                return client.info("server")["process_id"] == self._expected_pid()
        except redis.RedisError:
            return False

    def _expected_pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        try:
            return int((self.home / "redis.pid").read_text())
        except (OSError, TypeError, ValueError):
            return None

    def _log_tail(self) -> str:
        lines = []
        for name in ("stderr.log", "redis.log"):
            path = self.home / name
            lines += path.read_text(errors="replace").splitlines()[-3:] if path.exists() else []
        return (": " + " | ".join(line.strip() for line in lines if line.strip())) if lines else ""

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and is_lab_redis(self.pid, self.port, self.started)

    def signal(self, sig: int) -> bool:
        """Send sig to our own process if it still runs; whether it was sent."""
        if self.process is not None:
            if self.process.poll() is not None:
                return False
            self.process.send_signal(sig)
            return True
        return self.pid is not None and _signal_if_ours(self.pid, self.port, self.started, sig)

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
            raise ConfigError(f"redis-server on port {self.port} is not running; cannot {what} it")

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

    def to_state(self) -> dict:
        return {"port": self.port, "pid": self.pid, "started": self.started, "role": self.role,
                "home": str(self.home), "args": self.args}

    @classmethod
    def from_state(cls, state: dict) -> "RedisProcess":
        """A server another process started detached, reached by its recorded pid, port and start time."""
        return cls(*state["args"], port=state["port"], home=Path(state["home"]), role=state["role"],
                   pid=state["pid"], started=state["started"])

    def __enter__(self) -> "RedisProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = ("paused" if self.paused else "running") if self.alive() else "stopped"
        return f"RedisProcess(port={self.port}, {state})"
