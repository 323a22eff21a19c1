"""The cache hit's read by the shortest sound path through redis-py."""

from __future__ import annotations

import os
import threading

import redis

# A read's reply in the shape redis-py's own command methods return (RESP2 sends flat lists).
_READ_SHAPES = {
    "HGETALL": lambda reply: reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2])),
    "SMEMBERS": set,
    "LRANGE": list,
}


class HitReader:
    """The cache-hit read (HGETALL, SMEMBERS or LRANGE) by the shortest sound path through redis-py.

    redis-py 8 wraps every command in observability hooks, a per-command protocol check and
    retry closures, and borrows a connection from the pool and polls it each time; on a cache
    hit that costs more than everything this library does. Here each thread keeps one of the
    pool's connections for its reads, and the rest stays: the pool's check that an idle
    connection is still sound, the client's retry policy, the whole reply read before the next
    command, and a connection that failed mid-reply disconnected so no stale reply is read. Connections of threads that ended go back to the pool;
    after a fork the child takes its own. Other clients (a cluster client) take the normal path.
    """

    def __init__(self, client: redis.Redis):
        self.client = client
        pool = getattr(client, "connection_pool", None)
        self._pool = pool if type(pool) is redis.ConnectionPool and client.connection is None else None
        self._local = threading.local()
        self._held: dict[threading.Thread, object] = {}
        self._lock = threading.Lock()

    def read(self, command: str, *args):
        """The reply of one read command, shaped as redis-py shapes it."""
        shape = _READ_SHAPES[command]
        if self._pool is None:
            return getattr(self.client, command.lower())(*args)
        connection = self._connection()
        try:
            reply = connection.retry.call_with_retry(lambda: _send_and_read(connection, command, args),
                                                     lambda _error: connection.disconnect())
        except redis.ResponseError:
            raise  # an error reply was read whole: the connection is in step
        except BaseException:
            connection.disconnect()
            raise
        return shape(reply)

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None and connection.pid == os.getpid():
            return connection
        with self._lock:
            for thread in [t for t in self._held if not t.is_alive()]:
                self._pool.release(self._held.pop(thread))
            connection = self._local.connection = self._pool.get_connection()
            self._held[threading.current_thread()] = connection
        return connection

    def close(self) -> None:
        """Give every held connection back to the pool."""
        with self._lock:
            for connection in self._held.values():
                if self._pool is not None and connection.pid == os.getpid():
                    self._pool.release(connection)
            self._held.clear()
        self._local = threading.local()


def _send_and_read(connection, command: str, args: tuple):
    # As the pool checks before it lends a connection: data waiting on an idle connection means
    # the server closed it (or sent something unasked); start afresh instead of reading it.
    try:
        stale = connection.can_read()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        stale = True  # closed by the server while it sat idle
    if stale:
        connection.disconnect()
    connection.send_command(command, *args)
    return connection.read_response()
