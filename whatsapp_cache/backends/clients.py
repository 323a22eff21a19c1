"""Build the Redis client and the SQLAlchemy engine that a BackendConfig names."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ..config import BackendConfig, error_detail, failure_text, is_secret_name, mask_url
from ..errors import ConfigError
from . import embedded
from .one_connection import OneConnectionPool

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
