"""The hit path's lean read: same replies as redis-py, and never a connection out of step."""

import pytest
import redis

from whatsapp_cache.backends import lean_read


@pytest.fixture
def client(world):
    world.redis.hset("lean:h", mapping={"a": "1", "b": "2"})
    world.redis.rpush("lean:l", "x", "y", "z")
    world.redis.sadd("lean:s", "p", "q")
    world.redis.set("lean:str", "v")
    yield world.redis
    world.redis.delete("lean:h", "lean:l", "lean:s", "lean:str", "lean:h2")


def test_replies_have_the_shape_redis_py_gives(client):
    assert lean_read(client, "HGETALL", "lean:h") == client.hgetall("lean:h") == {"a": "1", "b": "2"}
    assert lean_read(client, "LRANGE", "lean:l", 0, -1) == client.lrange("lean:l", 0, -1) == ["x", "y", "z"]
    assert lean_read(client, "SMEMBERS", "lean:s") == client.smembers("lean:s") == {"p", "q"}
    assert lean_read(client, "HGETALL", "lean:none") == {}


def test_an_error_reply_is_raised_and_the_connection_stays_usable(client):
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        lean_read(client, "HGETALL", "lean:str")
    assert lean_read(client, "HGETALL", "lean:h") == {"a": "1", "b": "2"}


def test_a_reply_left_unread_never_reaches_the_next_caller(client, monkeypatch):
    client.hset("lean:h2", mapping={"other": "entry"})
    connection_class = client.connection_pool.connection_class  # fakeredis has its own
    read = connection_class.read_response
    calls = []

    def times_out_once(self, *args, **kwargs):
        if not calls:
            calls.append(1)
            raise redis.TimeoutError("injected: the reply is late")
        return read(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "read_response", times_out_once)
    with pytest.raises(redis.TimeoutError):
        lean_read(client, "HGETALL", "lean:h")
    assert lean_read(client, "HGETALL", "lean:h2") == {"other": "entry"}, "got the first command's late reply"


def test_a_client_without_a_plain_pool_takes_the_normal_path(client, monkeypatch):
    normal = []
    monkeypatch.setattr(client, "hgetall", lambda key: normal.append(key) or {"via": "hgetall"})
    pinned = redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
    monkeypatch.setattr(pinned, "hgetall", lambda key: normal.append(key) or {"via": "hgetall"})
    try:
        assert lean_read(pinned, "HGETALL", "lean:h") == {"via": "hgetall"} and normal == ["lean:h"]
    finally:
        pinned.close()
