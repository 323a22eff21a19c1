"""The embedded default's fakeredis client answers exactly as a plain fakeredis client does."""

import fakeredis
import hiredis
import pytest
import redis

from whatsapp_cache.backends.embedded import EmbeddedSocket, make_client, whole_commands

SCRIPTS = [
    "return redis.call('GET', KEYS[1])",
    "return redis.call('NOPE')",            # an unknown command inside a script
    "local x = = 1",                        # a syntax error
    "x = 1 return 1",                       # a global: refused
    "return redis.pcall('INCR', KEYS[1])",  # an error reply as a value
    "return {1, 'a', {2}}",
    "error('boom')",
    "return redis.error_reply('E bad')",
    "return redis.call('HGETALL', KEYS[2])",
]


def conversation(client) -> list:
    """Every kind of exchange the library has with Redis, its replies and errors as values."""
    out = []

    def call(action):
        try:
            out.append(action())
        except (redis.ResponseError, redis.DataError, redis.WatchError) as exc:
            out.append(f"{type(exc).__name__}: {exc}")

    call(lambda: client.set("k", "v\ud800x"))  # not UTF-8: replaced, as the World's client does
    call(lambda: client.get("k"))
    call(lambda: client.set("n", 3))
    call(lambda: client.incrbyfloat("n", 0.5))
    call(lambda: client.client_setname("abc"))
    call(lambda: client.client_getname())
    for bad in (None, True, [1]):
        call(lambda: client.set("k", bad))
    call(lambda: client.execute_command("SET", "m", memoryview(b"mv")))
    call(lambda: client.get("m"))
    call(lambda: client.set("big", "x" * 100_000))
    call(lambda: len(client.get("big")))
    call(lambda: client.zadd("z", {"a": 1.5, "b": 2}))
    call(lambda: client.zrange("z", 0, -1, withscores=True))
    call(lambda: client.lpush("k", "x"))                 # the wrong type
    call(lambda: client.execute_command("GET"))          # the wrong number of arguments
    call(lambda: client.execute_command("HSET", "h2", "f"))
    call(lambda: client.expire("k", "soon"))             # an argument that is not an integer
    call(lambda: client.hset("h2", mapping={"f": "1"}))  # the same command with other counts
    call(lambda: client.hset("h2", mapping={"f": "2", "g": "3"}))
    call(lambda: client.hgetall("h2"))
    call(lambda: client.zscore("missing", "a"))          # a missing key answered before its type is looked at
    call(lambda: client.lrange("missing", 0, -1))
    call(lambda: client.smembers("k"))
    pipe = client.pipeline()
    pipe.set("a", "1").incr("a").get("a").hset("h", mapping={"x": "1"}).hgetall("h")
    call(pipe.execute)
    pipe = client.pipeline(transaction=False)
    pipe.set("a", "1").lpush("a", "x").get("a")
    call(lambda: [repr(reply) for reply in pipe.execute(raise_on_error=False)])
    pipe = client.pipeline()
    pipe.set("a", "1").lpush("a", "x").get("a")
    call(pipe.execute)
    for script in SCRIPTS:
        call(lambda: client.eval(script, 2, "a", "h"))
    call(lambda: client.register_script(SCRIPTS[0])(keys=["a"]))
    client.set("w", "1")
    with client.pipeline() as pipe:
        pipe.watch("w")
        client.set("w", "2")
        pipe.multi()
        pipe.set("w", "3")
        call(pipe.execute)
    call(lambda: client.get("w"))
    subscriber = client.pubsub()
    subscriber.subscribe("channel")
    call(lambda: subscriber.get_message(timeout=1))
    call(lambda: client.publish("channel", "hi"))
    call(lambda: subscriber.get_message(timeout=1))
    subscriber.close()
    return out


@pytest.mark.parametrize("decode", [True, False])
def test_same_replies_and_errors_as_plain_fakeredis(decode):
    options = {"decode_responses": decode, "encoding_errors": "replace"}
    plain = fakeredis.FakeRedis(server=fakeredis.FakeServer(), **options)
    assert conversation(make_client(**options)) == conversation(plain)


def test_a_write_that_ends_mid_command_goes_to_fakeredis_own_parser():
    client = make_client(decode_responses=True)
    connection = client.connection_pool.get_connection()
    packed = hiredis.pack_command(("SET", "split", "value")) + hiredis.pack_command(("GET", "split"))
    connection.send_packed_command([packed[:7], packed[7:]])
    assert [connection.read_response(), connection.read_response()] == ["OK", "value"]
    assert isinstance(connection._sock, EmbeddedSocket) and connection._sock._streaming
    connection.send_command("GET", "split")  # whole writes after that still reach the same parser
    assert connection.read_response() == "value"
    client.connection_pool.release(connection)


def test_whole_commands_reads_only_whole_arrays_of_bulk_strings():
    packed = hiredis.pack_command(("SET", "k", "é", ""))
    assert whole_commands(packed + hiredis.pack_command(("GET", "k"))) == [[b"SET", b"k", "é".encode(), b""],
                                                                           [b"GET", b"k"]]
    assert whole_commands(memoryview(packed)) == [[b"SET", b"k", "é".encode(), b""]]
    assert whole_commands(b"") == [] and whole_commands(b"*0\r\n") == [[]]
    for partial_or_foreign in (packed[:-1], b"PING\r\n", b"*1\r\n:1\r\n", b"*-1\r\n", b"+OK\r\n"):
        assert whole_commands(partial_or_foreign) is None


def test_a_script_is_compiled_once_and_still_sees_its_own_keys():
    client = make_client(decode_responses=True)
    client.mset({"one": "1", "two": "2"})
    script = client.register_script("return redis.call('GET', KEYS[1]) .. ARGV[1]")
    assert [script(keys=["one"], args=["a"]), script(keys=["two"], args=["b"])] == ["1a", "2b"]
    server = client.connection_pool.connection_kwargs["server"]
    assert list(server._embedded_scripts._chunks) == [script.script.encode()]
