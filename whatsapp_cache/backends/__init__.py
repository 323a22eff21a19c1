"""The clients a BackendConfig names: Redis (live, cluster or the embedded fakeredis) and the database.

    clients.py         make_redis / make_engine, chosen by URL; describe_failure without secrets
    embedded.py        the embedded default's fakeredis connection, without redis-py's socket round trip
    one_connection.py  the embedded SQLite database's one connection, lent to one thread at a time
    hit_reader.py      the cache hit's read by the shortest sound path through redis-py
    retry.py           what a client's own Retry does against a Redis that never answers
"""

from .clients import (ENCODING_ERRORS, REDIS_TIMEOUT_S, ClusterUnreachable, describe_failure, is_cluster,
                      make_engine, make_redis, queue_script)
from .hit_reader import HitReader
from .one_connection import EmbeddedDatabaseClosed, EmbeddedDatabaseHeld, OneConnectionPool
from .retry import RetryPolicy, retry_policy

__all__ = ["ENCODING_ERRORS", "REDIS_TIMEOUT_S", "ClusterUnreachable", "EmbeddedDatabaseClosed",
           "EmbeddedDatabaseHeld", "HitReader", "OneConnectionPool", "RetryPolicy", "describe_failure",
           "is_cluster", "make_engine", "make_redis", "queue_script", "retry_policy"]
