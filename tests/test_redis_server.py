"""Throw-away redis-server processes start on a free port; stop, kill, pause and restart go by their own pid."""

import os
import socket
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from whatsapp_cache.errors import ConfigError, InvalidInput
from whatsapp_cache.lab import process
from whatsapp_cache.lab.process import HOST, RedisProcess, available

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def _needs_binary():
    if not available():
        pytest.skip("no redis-server binary")


def test_starts_answers_and_stops():
    with RedisProcess("--maxmemory", "10mb") as server:
        client = server.client()
        assert client.ping() and client.config_get("maxmemory")["maxmemory"] == str(10 * 1024 * 1024)
        pid = server.process.pid
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=server.port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)).ping()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ConfigError):
        RedisProcess("--no-such-option", "1").start()


def test_pause_resume_kill_and_restart_on_the_same_port():
    with RedisProcess() as server:
        client = server.client(socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
        client.set("kept", "yes")
        server.pause()
        assert "paused" in repr(server)
        with pytest.raises(redis.TimeoutError):
            client.get("kept")
        server.resume()
        assert client.get("kept") == "yes"  # a paused server keeps its data
        pid, port = server.process.pid, server.port
        server.kill()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        with pytest.raises(redis.ConnectionError):
            client.get("kept")
        server.restart()
        assert (server.port, server.url) == (port, f"redis://127.0.0.1:{port}/0") and server.process.pid != pid
        assert client.get("kept") is None  # nothing was persisted: it comes back empty
        with pytest.raises(ConfigError):
            server.restart()  # still running


def test_a_paused_server_stops_at_once():
    server = RedisProcess().start()
    server.pause()
    started = time.monotonic()
    server.stop()
    # a stop that left the process stopped would wait out its 5 s for SIGTERM before SIGKILL
    assert time.monotonic() - started < 4 and "stopped" in repr(server)
    with pytest.raises(ConfigError):
        server.pause()


def test_a_port_taken_after_it_was_chosen_fails_once_or_costs_a_retry_with_attempts(monkeypatch):
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = iter([taken, taken, process.free_port()])
        monkeypatch.setattr(process, "free_port", lambda: next(ports))  # the lab's one port finder
        with pytest.raises(ConfigError, match=f"port {taken} exited at start"):
            RedisProcess(startup_timeout_s=3).start()  # one attempt by default: the port stays as chosen
        with RedisProcess(attempts=3, startup_timeout_s=3) as server:
            assert server.port != taken and server.client().ping()


@pytest.mark.parametrize("attempts", [0, 11, True, 1.5])
def test_bad_attempts_are_refused(attempts):
    with pytest.raises(InvalidInput):
        RedisProcess(attempts=attempts)


def test_free_port_never_hands_out_a_port_twice_even_to_threads_asking_at_once(monkeypatch):
    # chapter 08's two WAIT labs probe for ports side by side; the kernel may offer the same free port to both
    from concurrent.futures import ThreadPoolExecutor

    from whatsapp_cache.lab import process

    offered = iter([41441, 41441, 41442, 41441, 41443, 41444, 41445, 41446])

    class Probe:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            self.port = next(offered)

        def getsockname(self):
            return (process.HOST, self.port)

    monkeypatch.setattr(process, "_handed_out", process.collections.deque(maxlen=process.HANDED_OUT_KEPT))
    monkeypatch.setattr(process.socket, "socket", Probe)
    with ThreadPoolExecutor(4) as pool:
        ports = list(pool.map(lambda _: process.free_port(), range(4)))
    assert sorted(ports) == [41441, 41442, 41443, 41444]
