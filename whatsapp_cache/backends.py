"""Build the Redis client and the SQLAlchemy engine that a BackendConfig names."""

from __future__ import annotations

import fakeredis
import redis
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from .config import BackendConfig, error_detail, mask_url
from .errors import ConfigError

REDIS_TIMEOUT_S = 2.0
# Bytes that are not UTF-8 (a corrupt or foreign value) decode to U+FFFD and then fail the
# codec's checks, so they read as a corrupt entry; "strict" raised mid-reply instead and
# left a live connection out of step with its replies.
ENCODING_ERRORS = "replace"


def make_redis(config: BackendConfig) -> redis.Redis:
    """A live client for a URL, else a private in-process fakeredis server."""
    if config.redis_url is None:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True,
                                   encoding_errors=ENCODING_ERRORS)
    try:
        return redis.Redis.from_url(
            config.redis_url,
            decode_responses=True,
            encoding_errors=ENCODING_ERRORS,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
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
