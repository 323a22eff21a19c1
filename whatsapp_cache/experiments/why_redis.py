"""The seed's "Why Redis?" measured: the same reads from an in-process cache, a Redis and a memcached.

    trace (Zipf over KEYS profile-like JSON values) --> in-process LRU   (a dict lookup, no network)
                                                   --> redis-server     (redis-py GET, loopback TCP)
                                                   --> memcached        (pymemcache get, loopback TCP)

Every backend gets the same values and the same reads; each read is timed on its own (p50, p99) and
its round trips are counted on the wire (redis: wire.count_round_trips; memcached: the client's
socket writes). Beside the timings, `capabilities` asks both servers what they can hold and keep:
memcached's item size limit and eviction settings (`stats settings`) and what a restart leaves.
Both servers are throw-away processes on free loopback ports (lab/process.py, lab/memcached.py).
"""

from __future__ import annotations

import functools
import json
import socket
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
import redis

from ..errors import InvalidInput
from ..eviction.lru import LRUCache
from ..eviction.workloads import zipf
from ..lab import memcached, process
from ..lab.memcached import MemcachedProcess
from ..lab.process import HOST, RedisProcess
from ..metrics import percentile
from ..tables import Column, format_table, table_lines
from .wire import count_round_trips

KEYS = 2_000
READS = 20_000


@dataclass(frozen=True)
class BackendReads:
    """One backend's run of the trace: counts (deterministic) and per-read latencies (real)."""

    name: str
    reads: int
    hits: int
    round_trips: int
    same_values: bool
    p50_us: float
    p99_us: float
    server_us: float | None = None  # Redis' own time per GET (INFO commandstats), the rest is the round trip


def trace(keys: int = KEYS, reads: int = READS, alpha: float = 1.0, seed: int = 0) -> list[str]:
    """The reads: key names drawn Zipf(alpha) over `keys` profiles, seeded."""
    return [f"profile:{i}" for i in zipf(keys, reads, alpha, seed).tolist()]


def value(key: str) -> bytes:
    """A profile-like JSON value of about 150 bytes, the same for a key wherever it is stored."""
    number = key.rpartition(":")[2]
    return json.dumps({"id": f"u{number:>06}", "name": f"User {number}", "status": "Available",
                       "avatar": f"https://cdn.example/{number}.jpg", "last_seen": 1_700_000_000_000}).encode()


def read_in_process(keys: list[str], reads: list[str]) -> BackendReads:
    cache = LRUCache(maxsize=len(keys))
    for key in keys:
        cache[key] = value(key)
    return _timed("in-process", cache.get, reads, round_trips=0)


def read_redis(client, keys: list[str], reads: list[str]) -> BackendReads:
    """Fill with one pipeline, then GET each read (redis-py, bytes replies)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, value(key))
    pipe.execute()
    client.config_resetstat()
    with count_round_trips(client) as wire:
        result = _timed("redis", client.get, reads, round_trips=0)
    server_us = float(client.info("commandstats")["cmdstat_get"]["usec_per_call"])
    return _with_trips(result, wire.round_trips, server_us)


def read_memcached(server: MemcachedProcess, keys: list[str], reads: list[str]) -> BackendReads:
    """Fill with set_many, then get each read through a client whose socket writes are counted."""
    counter = _CountingSockets()
    client = server.client(socket_module=counter)
    try:
        client.set_many({key: value(key) for key in keys}, noreply=False)
        counter.writes = 0
        result = _timed("memcached", client.get, reads, round_trips=0)
        return _with_trips(result, counter.writes)
    finally:
        client.close()


def compare(keys: int = KEYS, reads: int = READS, alpha: float = 1.0, seed: int = 0) -> list[BackendReads]:
    """The same trace on all three, each server a throw-away process started and stopped here."""
    _check(keys, reads)
    names, trace_ = [f"profile:{i}" for i in range(keys)], trace(keys, reads, alpha, seed)
    rows = [read_in_process(names, trace_)]
    with RedisProcess(attempts=3) as redis_server:  # a port taken before the bind costs a retry
        client = redis.Redis(HOST, redis_server.port)  # bytes replies, as memcached's
        try:
            rows.append(read_redis(client, names, trace_))
        finally:
            client.close()
    with MemcachedProcess() as server:
        rows.append(read_memcached(server, names, trace_))
    return rows


@functools.lru_cache(maxsize=4)
def lesson(keys: int = KEYS, reads: int = READS, alpha: float = 1.0, seed: int = 0) -> tuple[BackendReads, ...]:
    """compare() once per arguments in a session: the primer shows its counts and its timings in two cells."""
    return tuple(compare(keys, reads, alpha, seed))


def available() -> bool:
    """Whether both servers can start here (the lesson shows stored results otherwise)."""
    return memcached.available() and process.available()


def describe_counts(rows) -> str:
    """What does not depend on the machine: reads, hits, round trips, whether every value came back intact."""
    columns = (Column("backend", "<", width=11), Column("reads", format=",", width=7),
               Column("hits", format=",", width=7), Column("round trips", format=",", width=12),
               Column("round trips/read", format=".2f", width=17), Column("same values", "<"))
    return format_table(columns, [(r.name, r.reads, r.hits, r.round_trips, r.round_trips / r.reads, r.same_values)
                                  for r in rows])


def describe_timings(rows) -> str:
    """Real per-read latencies on this machine, and each server's p50 as a multiple of the in-process one."""
    base = rows[0].p50_us
    columns = (Column("backend", "<", width=11), Column("p50 us", format=".1f", width=8),
               Column("p99 us", format=".1f", width=8), Column("p50 x in-process", format=",.0f", width=17))
    lines = table_lines(columns, [(r.name, r.p50_us, r.p99_us, r.p50_us / base) for r in rows])
    for r in rows:
        if r.server_us is not None:
            lines.append(f"inside redis-server a GET took {r.server_us:.2f} us (INFO commandstats): "
                         f"{r.server_us / r.p50_us:.0%} of the p50, the rest is the round trip")
    return "\n".join(lines)


def capabilities(keys: int = 100) -> str:
    """What each can hold and keep, asked of real servers where a server can answer."""
    with MemcachedProcess() as server:
        settings = server.settings()
        refused = _too_large_refused(server, int(settings["item_size_max"]) + 1)
        client = server.client()
        client.set_many({f"k{i}": b"v" for i in range(keys)}, noreply=False)
        client.close()
        server.restart()
        client = server.client()
        kept = len(client.get_many([f"k{i}" for i in range(keys)]))
        client.close()
    mb = int(settings["item_size_max"]) / 2**20
    return "\n".join([
        f"memcached item size limit: {mb:g} MB (item_size_max); a larger value refused: {refused}",
        f"memcached eviction: evictions {settings['evictions']}, segmented LRU {settings.get('lru_segmented', '?')}",
        f"memcached restart: {kept} of {keys} keys kept",
    ])


def memory_per_item(keys: int = KEYS) -> str:
    """Bytes each cache spends per stored profile, beside the value's own size (the seed's "memory efficiency").

    Redis: the sum of MEMORY USAGE over the keys (key, value and the keyspace's entry); memcached: its
    `bytes` stat (item headers, keys and values; slab space left over is not counted); in-process: what
    tracemalloc saw the filled LRU dict allocate (keys, bytes objects, the dict and the order it keeps).
    """
    _check(keys, 1)
    names = [f"profile:{i}" for i in range(keys)]
    payload = sum(len(value(key)) for key in names) / keys
    per_item = {"in-process": _python_bytes(keys) / keys}
    with RedisProcess(attempts=3) as redis_server:  # a port taken before the bind costs a retry
        client = redis.Redis(HOST, redis_server.port)
        try:
            client.mset({key: value(key) for key in names})
            per_item["redis"] = sum(client.memory_usage(key) for key in names) / keys
        finally:
            client.close()
    with MemcachedProcess() as server:
        client = server.client()
        try:
            client.set_many({key: value(key) for key in names}, noreply=False)
            per_item["memcached"] = int(client.stats()[b"bytes"]) / keys
        finally:
            client.close()
    # Rounded to 10 bytes and one decimal: allocator and interpreter details move the last digits between runs.
    lines = [f"{keys:,} profiles of {payload:.0f} bytes each on average; bytes spent per profile (to 10 bytes):"]
    columns = (Column("", "<", width=11), Column("", format=".0f", width=6), Column("", "<", gap="  "))
    lines += table_lines(columns, [(name, round(size, -1), f"({size / payload:.1f}x the value)")
                                   for name, size in per_item.items()], header=False)
    return "\n".join(lines)


def _python_bytes(keys: int) -> int:
    """What building an in-process cache of `keys` profiles allocates (key strings too), as tracemalloc counts it."""
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        cache = LRUCache(maxsize=keys)
        for i in range(keys):
            key = f"profile:{i}"
            cache[key] = value(key)
        used = tracemalloc.get_traced_memory()[0] - start
        del cache
        return used
    finally:
        if not already:
            tracemalloc.stop()


def _too_large_refused(server: MemcachedProcess, size: int) -> bool:
    client = server.client()
    try:
        return not client.set("big", b"x" * size, noreply=False)
    except Exception as exc:  # pymemcache raises MemcacheServerError: "object too large for cache"
        if type(exc).__module__.startswith("pymemcache"):
            return True
        raise
    finally:
        client.close()


def _timed(name: str, get, reads: list[str], round_trips: int) -> BackendReads:
    clock = time.perf_counter_ns
    latencies = np.empty(len(reads), dtype=np.int64)
    hits = same = 0
    for i, key in enumerate(reads):
        start = clock()
        got = get(key)
        latencies[i] = clock() - start
        hits += got is not None
        same += got == value(key)
    p50, p99 = percentile(latencies, 50) / 1000, percentile(latencies, 99) / 1000
    return BackendReads(name, len(reads), hits, round_trips, same == len(reads), float(p50), float(p99))


def _with_trips(result: BackendReads, trips: int, server_us: float | None = None) -> BackendReads:
    return BackendReads(result.name, result.reads, result.hits, trips, result.same_values, result.p50_us,
                        result.p99_us, server_us)


def _check(keys: int, reads: int) -> None:
    for name, count, high in (("keys", keys, 1_000_000), ("reads", reads, 10_000_000)):
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= high:
            raise InvalidInput(f"{name} must be an integer from 1 to {high:,}")


class _CountingSockets:
    """Stands in for the socket module given to pymemcache: its sockets count their writes (one per request)."""

    def __init__(self):
        self.writes = 0

    def socket(self, *args, **kwargs):
        return _CountingSocket(socket.socket(*args, **kwargs), self)

    def __getattr__(self, name):
        return getattr(socket, name)


class _CountingSocket:
    def __init__(self, sock: socket.socket, counter: _CountingSockets):
        self._sock, self._counter = sock, counter

    def sendall(self, data, *args) -> None:
        self._counter.writes += 1
        self._sock.sendall(data, *args)

    def __getattr__(self, name):
        return getattr(self._sock, name)
