"""One memcached process on a free loopback port, for the "Why Redis?" lesson: started, waited for, stopped by its pid.

    with MemcachedProcess() as server:          # 64 MB, TCP only, 127.0.0.1:<free port>
        server.client().set("k", b"v")

Debian's package installs the binary (`apt-get install memcached`). The process is a child of this
one; stop() sends SIGTERM to that child only (SIGKILL after 5 s) and waits for it. Before it answers,
the server on the port is checked to be ours (its `stats` pid), so a port taken by someone else in
between is an error, not a silent success. The client is pymemcache's (https://pymemcache.readthedocs.io/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from pymemcache.client.base import Client

from ..errors import ConfigError, InvalidInput
from .process import HOST, free_port

STOP_TIMEOUT_S = 5.0


def available() -> bool:
    """Whether a memcached binary is on the PATH."""
    return shutil.which("memcached") is not None


def binary() -> str:
    path = shutil.which("memcached")
    if path is None:
        raise ConfigError("no memcached binary on the PATH; install it (Debian: apt-get install memcached)")
    return path


class MemcachedProcess:
    """A memcached on 127.0.0.1:<port> with `memory_mb` of item memory; start() it or use it as a context manager."""

    def __init__(self, *args: str, memory_mb: int = 64, port: int | None = None, startup_timeout_s: float = 10.0):
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or not 1 <= memory_mb <= 65536:
            raise InvalidInput("memory_mb must be an integer from 1 to 65536")
        binary()
        self.args = list(args)
        self.memory_mb = memory_mb
        self._port_given = port is not None
        self.port = port or free_port()
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The command line: loopback TCP only (-U 0 turns UDP off); as root memcached needs `-u root`."""
        words = [binary(), "-l", HOST, "-p", str(self.port), "-U", "0", "-m", str(self.memory_mb)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            words += ["-u", "root"]
        return words + self.args

    def client(self, **options) -> Client:
        """A pymemcache client of this server with short timeouts (a lesson asks, it does not wait)."""
        options.setdefault("connect_timeout", 1)
        options.setdefault("timeout", 2)
        options.setdefault("no_delay", True)
        return Client((HOST, self.port), **options)

    def start(self) -> "MemcachedProcess":
        """Start the server and return once it answers as our process; a ConfigError (nothing left running) if not.

        A port this object chose itself may be taken by another program between the choice and the
        bind (free_port() only finds one that was free); then it tries again on a new port, twice.
        """
        if self.alive():
            raise ConfigError(f"memcached on port {self.port} is still running; stop() it first")
        for attempt in range(1 if self._port_given else 3):
            if attempt:
                self.port = free_port()
            try:
                return self._start_once()
            except ConfigError:
                if self._port_given or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> "MemcachedProcess":
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        try:
            self._wait_ready(time.monotonic() + self.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        while not self._answering():
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace").strip()[-300:]
                raise ConfigError(f"memcached on port {self.port} exited at start: {error or 'no message'}")
            if time.monotonic() > deadline:
                raise ConfigError(f"memcached on port {self.port} did not answer in time")
            time.sleep(0.02)

    def _answering(self) -> bool:
        """Whether the server on the port answers and is our own child (its `stats` pid)."""
        try:
            client = self.client(connect_timeout=0.2, timeout=0.5)
            try:
                return int(client.stats()[b"pid"]) == self.process.pid
            finally:
                client.close()
        except (OSError, KeyError, ValueError):
            return False
        except Exception as exc:  # pymemcache's protocol errors
            if type(exc).__module__.startswith("pymemcache"):
                return False
            raise

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive() else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def settings(self) -> dict[str, str]:
        """`stats settings`: the server's configuration (item size limit, eviction, LRU), as text."""
        client = self.client()
        try:
            return {name.decode(): _text(value) for name, value in client.stats("settings").items()}
        finally:
            client.close()

    def stop(self) -> bool:
        """SIGTERM to our own child (SIGKILL after 5 s) and wait for it; whether it was running."""
        if not self.alive():
            self._reap()
            return False
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._reap()
        return True

    def restart(self) -> "MemcachedProcess":
        """Stop, then start again on the same port (memcached keeps nothing: it comes back empty)."""
        self.stop()
        return self.start()

    def _reap(self) -> None:
        if self.process is not None:
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def __enter__(self) -> "MemcachedProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"MemcachedProcess(port={self.port}, {'running' if self.alive() else 'stopped'})"


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
