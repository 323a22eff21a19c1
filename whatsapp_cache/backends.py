"""Build the Redis client and the SQLAlchemy engine that a BackendConfig names."""

from __future__ import annotations

import fakeredis
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from .config import BackendConfig, error_detail, mask_url
from .errors import ConfigError

REDIS_TIMEOUT_S = 2.0  # for clients that block on purpose (the write-behind worker, subscribers)
# Bytes that are not UTF-8 (a corrupt or foreign value) decode to U+FFFD and then fail the
# codec's checks, so they read as a corrupt entry; "strict" raised mid-reply instead and
# left a live connection out of step with its replies.
ENCODING_ERRORS = "replace"


def make_redis(config: BackendConfig, timeout_s: float = REDIS_TIMEOUT_S,
               connect_timeout_s: float | None = None, fail_fast: bool = False) -> redis.Redis:
    """A live client for a URL, else a private in-process fakeredis server.

    `fail_fast` replaces redis-py's default retries (ten, with backoff up to a second each)
    by one immediate reconnect after a broken connection and none after a timeout: a
    request should learn that Redis is gone within the timeout and use the database.
    Timeouts given in the URL (?socket_timeout=0.1&socket_connect_timeout=0.1) win.
    """
    if config.redis_url is None:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True,
                                   encoding_errors=ENCODING_ERRORS)
    try:
        return redis.Redis.from_url(
            config.redis_url,
            decode_responses=True,
            encoding_errors=ENCODING_ERRORS,
            socket_timeout=timeout_s,
            socket_connect_timeout=connect_timeout_s or timeout_s,
            **({"retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))} if fail_fast else {}),
        )
    except ValueError as exc:
        raise ConfigError(f"cannot use Redis URL {mask_url(config.redis_url)}: "
                          f"{error_detail(config.redis_url, exc)}") from None


def make_engine(config: BackendConfig) -> Engine:
    """An engine for a URL, else one in-memory SQLite database shared by every thread."""
    if config.database_url is None:
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        try:
            engine = create_engine(config.database_url, pool_pre_ping=True)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"cannot use database URL {mask_url(config.database_url)}: "
                              f"{error_detail(config.database_url, exc)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# A read's reply in the shape redis-py's own command methods return (RESP2 sends flat lists).
_READ_SHAPES = {
    "HGETALL": lambda reply: reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2])),
    "SMEMBERS": set,
    "LRANGE": list,
}


def lean_read(client: redis.Redis, command: str, *args):
    """One read command (HGETALL, SMEMBERS or LRANGE) by the shortest sound path through redis-py.

    redis-py 8 wraps every command in observability hooks, a per-command protocol check and
    retry closures; on a cache hit those cost about as much as everything this library does.
    This keeps what matters: a pooled connection, the client's own retry policy, the whole
    reply read before the connection goes back, and a connection that failed mid-reply
    disconnected so its next user never reads a stale reply. Any other client (a cluster
    client) takes the normal path.
    """
    shape = _READ_SHAPES[command]
    pool = getattr(client, "connection_pool", None)
    if type(pool) is not redis.ConnectionPool or client.connection is not None:
        return getattr(client, command.lower())(*args)
    connection = pool.get_connection()
    try:
        reply = connection.retry.call_with_retry(lambda: _send_and_read(connection, command, args),
                                                 lambda _error: connection.disconnect())
    except redis.ResponseError:
        raise  # an error reply was read whole: the connection is in step
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    return shape(reply)


def _send_and_read(connection, command: str, args: tuple):
    connection.send_command(command, *args)
    return connection.read_response()
