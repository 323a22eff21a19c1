"""Helpers shared by the test modules: tiny data set facts, key-space dumps, counters."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from whatsapp_cache.codec import META_FIELD, is_meta

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Facts of the "tiny" data set (seed 0); tests that rely on one assert it first.
BIG_CHAT = "dm.u000008.u000035"          # 120 messages: more than the cached 100
BIG_CHAT_USERS = ("u000008", "u000035")
SMALL_CHAT = "dm.u000003.u000036"        # 6 messages
SMALL_CHAT_USERS = ("u000003", "u000036")
EMPTY_CHAT = "dm.u000000.u000033"        # exists, no messages
EMPTY_CHAT_USERS = ("u000000", "u000033")
STRANGERS = ("u000000", "u000005")       # no conversation between them yet
GROUP = "g00002"                         # 14 members
OUTSIDER = "u000001"                     # not a member of GROUP


@dataclass(frozen=True)
class Counts:
    hits: int
    misses: int
    writes: int
    errors: int
    db_queries: int
    round_trips: int


def counts(world, data_type: str) -> Counts:
    """A snapshot of one data type's counters (metrics.of returns a live object)."""
    s = world.metrics.of(data_type)
    return Counts(s.hits, s.misses, s.writes, s.errors, s.db_queries, s.round_trips)


def dump_keyspace(client) -> dict[str, object]:
    """Every key of the Redis database with its value, whatever the type."""
    readers = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda key: client.lrange(key, 0, -1),
        "set": client.smembers,
        "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
    }
    dump = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        dump[key] = readers[kind](key) if kind in readers else kind
    return dump


def keys_without_ttl(client) -> list[str]:
    """Keys that would live forever (PTTL -1); the library should never leave one."""
    return sorted(key for key in client.scan_iter(count=1000) if client.pttl(key) < 0)


def incomplete_entries(world) -> list[str]:
    """Data keys of the world's namespace that hold an entry without its marker."""
    bad = []
    for key in world.redis.scan_iter(match=world.keys.pattern(), count=1000):
        kind = world.redis.type(key)
        if kind == "hash" and META_FIELD not in world.redis.hgetall(key):
            bad.append(key)
        elif kind == "list" and not is_meta(world.redis.lindex(key, -1) or ""):
            bad.append(key)
        elif kind == "set" and not any(is_meta(m) for m in world.redis.smembers(key)):
            bad.append(key)
    return sorted(bad)


def ids(messages) -> list[int]:
    return [m.id for m in messages]


def db_ids(world, conversation_id: str, limit: int = 100) -> list[int]:
    """The newest message ids straight from the source of truth, newest first."""
    return [row["id"] for row in world.repo.recent_messages(conversation_id, limit)]


def require_redis_server() -> None:
    """Skip when there is no redis-server binary (the lab's tests are marked live: CI counts a skip as failed)."""
    import pytest

    from whatsapp_cache.lab.process import available

    if not available():
        pytest.skip("no redis-server binary")


def running(pid: int) -> bool:
    """Whether pid runs (a zombie has exited; it only waits for its parent to reap it)."""
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def leftovers(pids: list[int], directory) -> list[str]:
    """What a stopped lab left behind: live pids and its directory."""
    return [f"pid {pid} runs" for pid in pids if running(pid)] + \
        ([f"{directory} exists"] if directory is not None and directory.exists() else [])


def stopped(lab) -> list[str]:
    """Stop a lab and report what it left behind."""
    pids, directory = [node.pid for node in lab.nodes()], lab.dir
    lab.stop()
    return leftovers(pids, directory)


def started_cluster(**options):
    """A LocalCluster for a fixture to yield from; afterwards it must leave no process and no directory."""
    from whatsapp_cache.lab.cluster import LocalCluster

    require_redis_server()
    lab = LocalCluster(**options)
    try:
        lab.start()
        yield lab
    finally:
        assert stopped(lab) == []


own_cluster = contextmanager(started_cluster)  # `with own_cluster(...) as lab:` for a test that kills nodes
