"""The hit path's reader: same replies as redis-py, one connection per thread, never out of step."""

import threading

import pytest
import redis

from whatsapp_cache.backends import HitReader


@pytest.fixture
def client(world):
    world.redis.hset("lean:h", mapping={"a": "1", "b": "2"})
    world.redis.rpush("lean:l", "x", "y", "z")
    world.redis.sadd("lean:s", "p", "q")
    world.redis.set("lean:str", "v")
    yield world.redis
    world.redis.delete("lean:h", "lean:l", "lean:s", "lean:str", "lean:h2")


@pytest.fixture
def reader(client):
    reader = HitReader(client)
    yield reader
    reader.close()


def test_replies_have_the_shape_redis_py_gives(client, reader):
    assert reader.read("HGETALL", "lean:h") == client.hgetall("lean:h") == {"a": "1", "b": "2"}
    assert reader.read("LRANGE", "lean:l", 0, -1) == client.lrange("lean:l", 0, -1) == ["x", "y", "z"]
    assert reader.read("SMEMBERS", "lean:s") == client.smembers("lean:s") == {"p", "q"}
    assert reader.read("HGETALL", "lean:none") == {}


def test_an_error_reply_is_raised_and_the_connection_stays_usable(reader):
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        reader.read("HGETALL", "lean:str")
    assert reader.read("HGETALL", "lean:h") == {"a": "1", "b": "2"}


@pytest.mark.no_cluster("HitReader's own path is for a single-node pool; a cluster client takes the normal path")
def test_a_reply_left_unread_never_reaches_the_next_read(client, reader, monkeypatch):
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
        reader.read("HGETALL", "lean:h")
    assert reader.read("HGETALL", "lean:h2") == {"other": "entry"}, "got the first command's late reply"


@pytest.mark.no_cluster("HitReader's own path is for a single-node pool; a cluster client takes the normal path")
def test_each_thread_keeps_its_own_connection_and_an_ended_thread_gives_it_back(client, reader):
    pool = client.connection_pool
    reader.read("HGETALL", "lean:h")
    mine = reader._connection()
    seen = []
    worker = threading.Thread(target=lambda: seen.append((reader.read("HGETALL", "lean:h"), reader._connection())))
    worker.start()
    worker.join()
    assert seen[0][0] == {"a": "1", "b": "2"} and seen[0][1] is not mine
    in_use = len(pool._in_use_connections)
    other = threading.Thread(target=lambda: reader.read("HGETALL", "lean:h"))
    other.start()
    other.join()
    assert len(pool._in_use_connections) == in_use, "the ended thread's connection went back before a new one was taken"
    reader.close()
    assert mine not in pool._in_use_connections and mine in pool._available_connections


@pytest.mark.no_cluster("it swaps the one connection pool of a single-node client")
def test_a_client_without_a_plain_pool_takes_the_normal_path(client, monkeypatch):
    pinned = redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
    normal = []
    monkeypatch.setattr(pinned, "hgetall", lambda key: normal.append(key) or {"via": "hgetall"})
    try:
        assert HitReader(pinned).read("HGETALL", "lean:h") == {"via": "hgetall"} and normal == ["lean:h"]
    finally:
        pinned.close()
