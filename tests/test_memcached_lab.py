"""The lab's memcached: a throw-away process on a free loopback port, stopped by its own pid."""

from __future__ import annotations

import socket

import pytest

from support import running

from whatsapp_cache.errors import ConfigError, InvalidInput
from whatsapp_cache.lab import memcached, process
from whatsapp_cache.lab.memcached import MemcachedProcess
from whatsapp_cache.lab.process import HOST


def require_memcached() -> None:
    """Skip without the binary; the tests are marked live, so CI (which installs it) counts a skip as failed."""
    if not memcached.available():
        pytest.skip("no memcached binary (Debian: apt-get install memcached)")


@pytest.fixture(autouse=True)
def _binary():
    require_memcached()


@pytest.mark.live
def test_it_stores_and_serves_then_stops_its_own_process():
    server = MemcachedProcess().start()
    pid = server.pid
    try:
        client = server.client()
        assert client.set("greeting", b"hello", noreply=False) and client.get("greeting") == b"hello"
        client.close()
    finally:
        assert server.stop()
    assert not running(pid) and not server.alive() and not server.stop()


@pytest.mark.live
def test_a_restart_comes_back_empty():
    with MemcachedProcess() as server:
        client = server.client()
        client.set("k", b"v", noreply=False)
        client.close()
        server.restart()
        client = server.client()
        assert client.get("k") is None
        client.close()


@pytest.mark.live
def test_settings_say_the_item_size_limit_and_memory():
    with MemcachedProcess(memory_mb=16) as server:
        settings = server.settings()
    assert int(settings["maxbytes"]) == 16 * 2**20 and int(settings["item_size_max"]) == 2**20


@pytest.mark.live
def test_a_port_someone_else_holds_is_an_error_and_nothing_is_left_running():
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        server = MemcachedProcess(port=holder.getsockname()[1], startup_timeout_s=3)
        with pytest.raises(ConfigError):
            server.start()
        assert not server.alive()


@pytest.mark.parametrize("memory_mb", [0, -1, True, "64", 10**6])
def test_bad_memory_sizes_are_refused(memory_mb):
    with pytest.raises(InvalidInput):
        MemcachedProcess(memory_mb=memory_mb)


@pytest.mark.live
def test_a_port_taken_after_it_was_chosen_costs_a_retry_on_another(monkeypatch):
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = iter([taken, process.free_port()])
        monkeypatch.setattr(process, "free_port", lambda: next(ports))  # the lab's one port finder
        with MemcachedProcess(startup_timeout_s=3) as server:
            assert server.port != taken and server.client().version()
