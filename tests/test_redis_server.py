"""Throw-away redis-server processes start on a free port and stop by their own pid."""

import os

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from whatsapp_cache import redis_server
from whatsapp_cache.errors import ConfigError

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def _needs_binary():
    if not redis_server.available():
        pytest.skip("no redis-server binary")


def test_starts_answers_and_stops():
    with redis_server.ThrowawayRedis("--maxmemory", "10mb") as server:
        client = server.client()
        assert client.ping() and client.config_get("maxmemory")["maxmemory"] == str(10 * 1024 * 1024)
        pid = server.process.pid
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=server.port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)).ping()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ConfigError):
        redis_server.ThrowawayRedis("--no-such-option", "1").start()
