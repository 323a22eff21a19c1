"""Round trips counted on the wire, below the library's own counters.

    with count_round_trips(world.redis) as wire:
        world.profiles.get("u000001")
    wire.round_trips          # 1 on a hit: one write to the socket, one reply

One round trip is one write of packed commands to a connection: a single command, or a whole
pipeline (MULTI/EXEC included). Writes made while a connection (re)connects (HELLO, CLIENT
SETINFO, SELECT, AUTH) are counted apart, as handshakes. Only the given client's connections
are watched, so other clients in the process do not add to the count. It works on redis.Redis
and on fakeredis.FakeRedis, whose connections are redis-py connections over an in-process socket.

On redis.RedisCluster it watches the pool of every node the client knows when the block starts
(a node found by a later topology refresh is not watched), and counts each write to a node. A
pipeline spread over N masters then counts N: redis-py writes to all of them before it reads any
reply, so it costs about one round trip of latency but N of the claims' units; single-key
operations count as on one Redis. The claims (claims.py) are for one Redis.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class WireCount:
    """What one client sent inside a count_round_trips block."""

    trips: list[tuple[str, ...]] = field(default_factory=list)  # command names of each round trip
    handshakes: int = 0
    script_names: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def round_trips(self) -> int:
        return len(self.trips)

    @property
    def commands(self) -> int:
        return sum(len(trip) for trip in self.trips)

    def describe(self) -> str:
        """Round trips separated by ';', repeats folded: 'HGETALL; 20 x EVALSHA <fill>'."""
        return fold_trips(self.trips)

    def _sent(self, packed, handshake: bool) -> None:
        with self._lock:
            if handshake:
                self.handshakes += 1
            else:
                self.trips.append(_command_names(packed, self.script_names))


@contextmanager
def count_round_trips(client, script_names: dict[str, str] | None = None) -> Iterator[WireCount]:
    """Count every network write of `client` inside the block; `script_names` maps SHA1 -> name."""
    count = WireCount(script_names=dict(script_names or {}))
    state = threading.local()
    restore: dict[int, tuple[object, object]] = {}
    saved_pools = []

    def watch(connection):
        if connection is not None and id(connection) not in restore:
            restore[id(connection)] = (connection, _wrap_send(connection, count, state))
        return connection

    for pool in _pools(client):
        saved_pools.append((pool, {name: vars(pool).get(name) for name in ("get_connection", "make_connection")}))
        _watch_pool(pool, watch, state)
    for connection in _pooled(client):
        watch(connection)
    try:
        yield count
    finally:
        for pool, saved in saved_pools:
            for name, previous in saved.items():
                _restore(pool, name, previous)
        for connection, previous in restore.values():
            _restore(connection, "send_packed_command", previous)


def _watch_pool(pool, watch, state: threading.local) -> None:
    """Make `pool` hand out (and create) only watched connections."""
    previous_get, previous_make = pool.get_connection, pool.make_connection

    def get_connection(*args, **kwargs):
        state.connecting = True  # the pool connects (and handshakes) before handing a connection out
        try:
            return watch(previous_get(*args, **kwargs))
        finally:
            state.connecting = False

    pool.get_connection = get_connection
    pool.make_connection = lambda *args, **kwargs: watch(previous_make(*args, **kwargs))


def _pools(client) -> list:
    """The client's connection pool; a cluster client's: one per node it knows now."""
    if hasattr(client, "get_nodes"):
        return [node.redis_connection.connection_pool for node in client.get_nodes()
                if node.redis_connection is not None]
    return [client.connection_pool]


def _pooled(client) -> list:
    """The connections a client already holds (redis-py keeps them in private lists)."""
    held = [getattr(client, "connection", None)]
    for pool in _pools(client):
        held += [*getattr(pool, "_available_connections", ()), *getattr(pool, "_in_use_connections", ()),
                 *getattr(pool, "_connections", ())]
    return held


def _wrap_send(connection, count: WireCount, state: threading.local):
    """Count this connection's writes; return what to put back afterwards."""
    previous = vars(connection).get("send_packed_command")

    def send_packed_command(command, check_health=True):
        # Looked up per call, so faults.py's class-level patches still apply inside the block.
        send = previous or functools.partial(type(connection).send_packed_command, connection)
        handshake = getattr(state, "connecting", False) or getattr(state, "depth", 0) > 0
        state.depth = getattr(state, "depth", 0) + 1
        try:
            send(command, check_health)
        finally:
            state.depth -= 1
        count._sent(command, handshake)  # only writes that went out

    connection.send_packed_command = send_packed_command
    return previous


def _restore(target, name: str, previous) -> None:
    if previous is None:
        vars(target).pop(name, None)
    else:
        setattr(target, name, previous)


def _command_names(packed, script_names: dict[str, str]) -> tuple[str, ...]:
    """The command names in a packed RESP write (a script call shows its script's name)."""
    chunks = [packed] if isinstance(packed, (bytes, bytearray, memoryview, str)) else packed
    data = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
    names, at = [], 0
    while data.startswith(b"*", at):
        count, at = _length(data, at)
        words = []
        for index in range(count):
            size, at = _length(data, at)
            if index < 2:
                words.append(data[at:at + size].decode("utf-8", "replace"))
            at += size + 2
        names.append(_name(words, script_names))
    return tuple(names)


def _length(data: bytes, at: int) -> tuple[int, int]:
    """The number after a RESP type byte ('*' or '$') at `at`, and where the next part starts."""
    end = data.index(b"\r\n", at)
    return int(data[at + 1:end]), end + 2


def _name(words: list[str], script_names: dict[str, str]) -> str:
    name = words[0].upper()
    if name == "EVALSHA" and len(words) > 1:
        return f"EVALSHA <{script_names.get(words[1], words[1][:8])}>"
    if name in ("SCRIPT", "CLIENT", "OBJECT") and len(words) > 1:
        return f"{name} {words[1].upper()}"
    return name


def _fold(trip: tuple[str, ...]) -> str:
    """'HGETALL HGETALL HGETALL' -> '3 x HGETALL'; a MULTI ... EXEC pipeline keeps its order."""
    parts: list[list] = []
    for name in trip:
        if parts and parts[-1][0] == name:
            parts[-1][1] += 1
        else:
            parts.append([name, 1])
    return " ".join(name if times == 1 else f"{times} x {name}" for name, times in parts)


def fold_trips(trips: list[tuple[str, ...]]) -> str:
    """Round trips as text; a repeating sequence of them reads '20 x [HGETALL; GET; EVALSHA <fill>]'."""
    texts = [_fold(trip) for trip in trips]
    period = next((p for p in range(1, len(texts) // 2 + 1)
                   if len(texts) % p == 0 and texts == texts[:p] * (len(texts) // p)), None)
    if period is not None and len(texts) > period:
        return f"{len(texts) // period} x [{'; '.join(texts[:period])}]"
    return "; ".join(texts)
