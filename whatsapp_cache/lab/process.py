"""Throw-away `redis-server` processes on free local ports, for lessons that need a real server.

fakeredis cannot show CLIENT TRACKING, INFO, eviction under maxmemory or WAIT; these
lessons start their own server, use it, and stop it by its pid. Nothing is written to disk,
so a server killed and restarted comes back empty, like a cache node that crashed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import ConfigError


def available() -> bool:
    """Whether a redis-server binary is on the PATH."""
    return shutil.which("redis-server") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayRedis:
    """A redis-server on 127.0.0.1:<free port>, persistence off; use as a context manager."""

    def __init__(self, *config: str, port: int | None = None, startup_timeout_s: float = 10.0):
        if not available():
            raise ConfigError("no redis-server binary on the PATH; this lesson needs a real Redis")
        self.port = port or free_port()
        self.config = list(config)
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "ThrowawayRedis":
        command = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", str(Path("/tmp")), *self.config]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout_s
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ConfigError(f"redis-server exited at start with code {self.process.returncode}")
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise ConfigError(f"redis-server on port {self.port} did not answer within {self.startup_timeout_s} s")

    def client(self, **options) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, **options)

    def kill(self) -> None:
        """SIGKILL the process this object started, a crash without shutdown, and wait for it to go."""
        process = self._running()
        process.kill()  # our own child, by its pid
        process.wait(5)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP our own child: connections stay open, nothing answers (a hung server)."""
        self._running().send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT our own child after pause(); it answers again with its data intact."""
        self._running().send_signal(signal.SIGCONT)
        self.paused = False

    def restart(self) -> "ThrowawayRedis":
        """Start again on the same port after kill() or stop(); returns once it answers PING."""
        if self.process is not None and self.process.poll() is None:
            raise ConfigError(f"redis-server on port {self.port} is still running; kill() or stop() it first")
        return self.start()

    def _running(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            raise ConfigError(f"redis-server on port {self.port} is not running")
        return self.process

    def stop(self) -> None:
        """Stop the process this object started (and only it)."""
        if self.process is not None and self.process.poll() is None:
            if self.paused:
                self.resume()  # a stopped process would hold SIGTERM until continued
            self.process.terminate()  # SIGTERM to our own child only
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        self.paused = False

    def __enter__(self) -> "ThrowawayRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = self.process is not None and self.process.poll() is None
        state = ("paused" if self.paused else "running") if running else "stopped"
        return f"ThrowawayRedis(port={self.port}, {state})"
