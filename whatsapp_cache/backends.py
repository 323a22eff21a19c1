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
