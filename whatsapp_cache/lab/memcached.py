"""One memcached process on a free loopback port, for the "Why Redis?" lesson: started, waited for, stopped by its pid.

    with MemcachedProcess() as server:          # 64 MB, TCP only, 127.0.0.1:<free port>
        server.client().set("k", b"v")

Debian's package installs the binary (`apt-get install memcached`). The process manager is the lab's
one ServerProcess (process.py): a child of this process, stopped by SIGTERM to that child only
(SIGKILL after 5 s), checked to be ours before it counts as answering, so a port taken by someone
else in between is an error, not a silent success. What is memcached's is here: its command line
and how to ask it for its pid (`stats`). The client is pymemcache's (https://pymemcache.readthedocs.io/).
"""

from __future__ import annotations

import os
import shutil

from pymemcache.client.base import Client

from ..errors import InvalidInput
from .process import HOST, ServerProcess, program_path

INSTALL = "install it (Debian: apt-get install memcached)"


def available() -> bool:
    """Whether a memcached binary is on the PATH."""
    return shutil.which("memcached") is not None


def binary() -> str:
    """The memcached binary's path; a clear ConfigError without one."""
    return program_path("memcached", INSTALL)


class MemcachedProcess(ServerProcess):
    """A memcached on 127.0.0.1:<port> with `memory_mb` of item memory; start() it or use it as a context manager.

    A port this object chose itself may be taken by another program between the choice and the
    bind (free_port() only finds one that was free); then start() tries again on a new port, twice.
    """

    program = "memcached"
    home_prefix = "whatsapp_cache_memcached_"

    def __init__(self, *args: str, memory_mb: int = 64, port: int | None = None, startup_timeout_s: float = 10.0):
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or not 1 <= memory_mb <= 65536:
            raise InvalidInput("memory_mb must be an integer from 1 to 65536")
        binary()
        super().__init__(*args, port=port, startup_timeout_s=startup_timeout_s, attempts=3)
        self.memory_mb = memory_mb

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

    def server_pid(self) -> int | None:
        """The pid in the `stats` of the server on the port; None if none answers."""
        try:
            client = self.client(connect_timeout=0.2, timeout=0.5)
            try:
                return int(client.stats()[b"pid"])
            finally:
                client.close()
        except (OSError, KeyError, ValueError):
            return None
        except Exception as exc:  # pymemcache's protocol errors
            if type(exc).__module__.startswith("pymemcache"):
                return None
            raise

    def settings(self) -> dict[str, str]:
        """`stats settings`: the server's configuration (item size limit, eviction, LRU), as text."""
        client = self.client()
        try:
            return {name.decode(): _text(value) for name, value in client.stats("settings").items()}
        finally:
            client.close()

    def restart(self) -> "MemcachedProcess":
        """Stop, then start again on the same port (memcached keeps nothing: it comes back empty)."""
        self.stop()
        return self.start()


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
