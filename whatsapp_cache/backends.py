"""Build the Redis client and the SQLAlchemy engine that a BackendConfig names."""

from __future__ import annotations

import os
import threading

from dataclasses import dataclass

import redis
import redis.backoff
import redis.retry
from redis.exceptions import RedisClusterException
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, InvalidRequestError, NoSuchModuleError, ResourceClosedError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import Pool

from . import embedded
from .config import BackendConfig, error_detail, failure_text, is_secret_name, mask_url
from .errors import ConfigError

REDIS_TIMEOUT_S = 2.0  # for clients that block on purpose (the write-behind worker, subscribers)
# Bytes that are not UTF-8 (a corrupt or foreign value) decode to U+FFFD and then fail the
# codec's checks, so they read as a corrupt entry; "strict" raised mid-reply instead and
# left a live connection out of step with its replies.
ENCODING_ERRORS = "replace"


def is_cluster(client) -> bool:
    """Whether `client` is redis-py's cluster client (or one of its pipelines)."""
    return isinstance(client, redis.RedisCluster)


def make_redis(config: BackendConfig, timeout_s: float = REDIS_TIMEOUT_S,
               connect_timeout_s: float | None = None, fail_fast: bool = False) -> redis.Redis:
    """A live client for a URL (a cluster client if the config says so), else a private in-process fakeredis.

    `fail_fast` replaces redis-py's default retries (ten, with backoff up to a second each)
    by one immediate reconnect after a broken connection and none after a timeout: a
    request should learn that Redis is gone within the timeout and use the database.
    Timeouts given in the URL (?socket_timeout=0.1&socket_connect_timeout=0.1) win.
    """
    if config.redis_url is None:
        return embedded.make_client(decode_responses=True, encoding_errors=ENCODING_ERRORS)
    options = {"decode_responses": True, "encoding_errors": ENCODING_ERRORS, "socket_timeout": timeout_s,
               "socket_connect_timeout": connect_timeout_s or timeout_s}
    try:
        if config.redis_cluster:
            return _make_cluster(config.redis_url, options, fail_fast)
        if fail_fast:
            options["retry"] = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        return redis.Redis.from_url(config.redis_url, **options)
    except (ValueError, RedisClusterException) as exc:
        raise ConfigError(f"cannot use Redis URL {config.redis_label}: "
                          f"{error_detail(config.redis_url, exc)}") from None


class ClusterUnreachable(redis.ConnectionError):
    """No node of the Redis Cluster answered when the client asked for the slot map."""


def _make_cluster(url: str, options: dict, fail_fast: bool) -> redis.RedisCluster:
    """redis-py's cluster client; it asks a node for the slot map at once, so one node must answer now.

    Its nodes' connections never retry; the cluster client's `retry` repeats a whole command
    after ConnectionError, TimeoutError, ClusterDownError or SlotNotCoveredError, having
    refreshed the slot map (and slept 0.25 s after CLUSTERDOWN). Fail-fast allows one
    immediate repeat, enough to follow a completed failover to the new master; the default
    (three, with backoff) suits the worker and subscribers. Slots nobody serves (a master
    down, no failover yet) fail alone instead of the whole client (require_full_coverage=False).
    """
    if fail_fast:
        options["retry"] = Retry(NoBackoff(), 1)
    try:
        client = redis.RedisCluster.from_url(url, require_full_coverage=False, **options)
    except RedisClusterException as exc:
        if isinstance(exc.__cause__, (redis.ConnectionError, redis.TimeoutError, OSError)):
            raise ClusterUnreachable(f"no node of the Redis Cluster at {mask_url(url)} answered "
                                     f"({type(exc.__cause__).__name__})") from None
        raise
    manager = client.nodes_manager
    manager.initialize = _unreachable_as_connection_error(manager.initialize)
    return client


def _unreachable_as_connection_error(initialize):
    """After a broken connection redis-py refreshes the slot map; if no node answers that, it raises
    RedisClusterException (also its error for misuse). Raise ClusterUnreachable instead: Redis is down."""
    def refresh(*args, **kwargs):
        try:
            return initialize(*args, **kwargs)
        except RedisClusterException as exc:
            if isinstance(exc.__cause__, (redis.ConnectionError, redis.TimeoutError, OSError)):
                raise ClusterUnreachable(f"no node of the Redis Cluster answered ({type(exc.__cause__).__name__})") \
                    from exc.__cause__
            raise
    return refresh


def make_engine(config: BackendConfig) -> Engine:
    """An engine for a URL, else one in-memory SQLite database that threads use one at a time."""
    if config.database_url is None:
        engine = create_engine(
            "sqlite://", poolclass=OneConnectionPool, connect_args={"check_same_thread": False}
        )
    else:
        try:
            url, secrets = _secrets_apart(config.database_url)
            engine = create_engine(url, pool_pre_ping=True, connect_args=secrets)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"cannot use database URL {mask_url(config.database_url)}: "
                              f"{error_detail(config.database_url, exc)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


class EmbeddedDatabaseClosed(ResourceClosedError):
    """The embedded database's connection was closed or invalidated, and its data with it."""


class EmbeddedDatabaseHeld(InvalidRequestError):
    """A thread asked for the embedded database's connection while it already held it."""


class OneConnectionPool(Pool):
    """The embedded database's one sqlite3 connection, lent to one thread at a time.

    An in-memory SQLite database lives only as long as its one connection, and Python's
    sqlite3 module does not make that connection safe for two threads at once: they share
    its transaction, its statements and its error state. Shared anyway (StaticPool), one
    thread's ROLLBACK undid another's acknowledged INSERT, whose id went to the next
    message; a failed reset made SQLAlchemy close the connection under the others (a
    segfault) and open a new, empty database. Here a checkout waits until the connection is
    free; the thread that holds it already is refused (waiting would never end, sharing would
    mix two transactions); and the connection is opened once: once lost, every checkout raises.
    """

    def __init__(self, creator, timeout: float = 30.0, **kwargs):
        self._timeout_s = timeout
        self._free = threading.Lock()  # not an RLock: a leaked checkout is returned by the garbage collector
        self._holder: int | None = None
        self._record = None
        super().__init__(creator if isinstance(creator, _OpenOnce) else _OpenOnce(creator), **kwargs)

    def status(self) -> str:
        return f"OneConnectionPool(held by thread {self._holder})" if self._holder else "OneConnectionPool(free)"

    def _do_get(self):
        if self._holder == threading.get_ident():
            raise EmbeddedDatabaseHeld("this thread already holds the embedded database's only connection; "
                                       "finish that use before starting another")
        if not self._free.acquire(timeout=self._timeout_s):
            raise PoolTimeout(f"no turn at the embedded database's connection within {self._timeout_s} s")
        self._holder = threading.get_ident()
        try:
            if self._record is None:
                self._record = self._create_connection()
        except BaseException:
            self._release()
            raise
        return self._record

    def _do_return_conn(self, record) -> None:
        self._release()

    def _release(self) -> None:
        self._holder = None
        self._free.release()

    def dispose(self) -> None:
        """Close the connection, and with it the database (after its current user is done)."""
        if self._record is None:
            return
        waited = self._holder != threading.get_ident() and self._free.acquire(timeout=self._timeout_s)
        try:
            self._record.close()
        finally:
            if waited:
                self._free.release()

    def recreate(self) -> "OneConnectionPool":
        """A pool with the same creator; it refuses to connect, as the database is gone (engine.dispose())."""
        self.logger.info("Pool recreating")
        return self.__class__(self._creator, timeout=self._timeout_s, recycle=self._recycle,
                              reset_on_return=self._reset_on_return, pre_ping=self._pre_ping, echo=self.echo,
                              logging_name=self._orig_logging_name, _dispatch=self.dispatch, dialect=self._dialect)


class _OpenOnce:
    """A pool's creator that connects only once: a second :memory: connection is a new, empty database.

    SQLAlchemy reconnects an invalidated connection (after an error it takes for a disconnect,
    or a failed rollback) on its next checkout; here that checkout raises instead.
    """

    def __init__(self, creator):
        self._creator = creator
        self._opened = False

    def __call__(self, connection_record=None):
        if self._opened:
            raise EmbeddedDatabaseClosed("the embedded in-memory database was closed (its connection was lost "
                                         "or the World closed); its data is gone")
        self._opened = True
        return self._creator(connection_record)


def _secrets_apart(database_url: str) -> tuple[URL, dict]:
    """The URL without its secret query parameters (?password=, ?sslpassword=...), and those apart.

    SQLAlchemy's URL repr, and so repr(engine), hides only the password of the userinfo. The
    drivers read the query as connection arguments (psycopg: libpq keywords), so the secrets
    reach them unchanged as `connect_args`, and the engine's URL has none to show.
    """
    url = make_url(database_url)
    secret = [name for name in url.query if is_secret_name(name)]
    return url.difference_update_query(secret), {name: url.query[name] for name in secret}


def describe_failure(exc: BaseException, config: BackendConfig) -> str:
    """One line naming the backend that failed (its URL masked) and the driver's complaint (secrets scrubbed)."""
    where = f"Redis at {config.redis_label}" if isinstance(exc, redis.RedisError) else \
        f"database at {config.database_label}"
    return f"{where}: {failure_text(exc, config.redis_url, config.database_url)}"


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


@dataclass(frozen=True)
class RetryPolicy:
    """What a client does when a call fails with a connection error: how often it retries, and its waits."""

    retries: int
    backoff: str                 # the backoff's class name
    worst_waits_s: tuple[float, ...]  # the sleep before each retry, jitter at its maximum

    @property
    def worst_total_s(self) -> float:
        return sum(self.worst_waits_s)

    def describe(self) -> str:
        return (f"retries: {self.retries:>2}, backoff: {self.backoff}, "
                f"worst-case waits {self.worst_total_s:.2f} s in all")


def retry_policy(client) -> RetryPolicy:
    """Ask `client`'s own Retry what it does against a Redis that never answers.

    Runs Retry.call_with_retry on a call that always raises ConnectionError, records each sleep
    instead of sleeping, and draws every jitter at its maximum (redis-py's backoffs scale a
    uniform draw; the worst case is a draw of 1). No connection is made. It swaps two module
    attributes of redis-py while it runs: call it from a notebook or a test, not under load.
    """
    retry = client.get_retry()
    if retry is None:
        return RetryPolicy(0, "none", ())
    waits: list[float] = []
    real_sleep, real_random = redis.retry.sleep, redis.backoff.random
    redis.retry.sleep = waits.append
    redis.backoff.random = _Highest()
    try:
        retry.call_with_retry(_refuse, lambda error: None)
    except redis.ConnectionError:
        pass
    finally:
        redis.retry.sleep, redis.backoff.random = real_sleep, real_random
    return RetryPolicy(retry.get_retries(), type(retry._backoff).__name__, tuple(waits))


def _refuse():
    raise redis.ConnectionError("a Redis that never answers")


class _Highest:
    """Stands in for the random module inside redis.backoff: every draw at the top of its range."""

    @staticmethod
    def random() -> float:
        return 1.0

    @staticmethod
    def uniform(low: float, high: float) -> float:
        return max(low, high)

def queue_script(script, pipe, keys: list, args: list, by_sha: bool = False) -> None:
    """Queue one script call in a pipeline (`by_sha`: a bare EVALSHA, its NOSCRIPT reply the caller's to handle).

    redis-py's cluster pipelines cannot check (SCRIPT EXISTS) or load scripts first, and refuse
    .evalsha(); there a Script object is sent as EVAL with its text. The call is aimed at the node
    serving its first key: left to redis-py, each script call in a cluster pipeline costs one
    more round trip (COMMAND GETKEYS) to learn its keys. After a redirection or a broken
    connection redis-py resends the call routed by its keys as usual.
    """
    if not is_cluster(pipe):
        if by_sha:
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        else:
            script(keys=keys, args=args, client=pipe)
        return
    command, body = ("EVALSHA", script.sha) if by_sha else ("EVAL", script.script)
    pipe.execute_command(command, body, len(keys), *keys, *args, target_nodes=pipe.get_node_from_key(keys[0]))
