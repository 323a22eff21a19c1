"""Round trips counted on the wire, below the library's own counters.

    with count_round_trips(world.redis) as wire:
        world.profiles.get("u000001")
    wire.round_trips          # 1 on a hit: one write to the socket, one reply

One round trip is one write of packed commands to a connection: a single command, or a whole
pipeline (MULTI/EXEC included); a (re)connection's handshake is counted apart. Only the given
client's connections count, on redis.Redis, fakeredis.FakeRedis and redis.RedisCluster alike.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from .instrument import Observer, observing


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
    with observing(_ClientWrites(_pools(client), count)):
        yield count


class _ClientWrites(Observer):
    """Counts the writes that went out on connections of the given pools."""

    def __init__(self, pools: list, count: WireCount):
        self.pools, self.count = pools, count

    def sent(self, connection, packed, handshake):
        if any(_holds(pool, connection) for pool in self.pools):
            self.count._sent(packed, handshake)


def _pools(client) -> list:
    """The client's connection pool; a cluster client's: one per node it knows now.

    A node found by a later topology refresh is not watched. A cluster pipeline spread over N
    masters counts N writes: about one round trip of latency, but N of the claims' units (the
    claims in claims.py are for one Redis).
    """
    if hasattr(client, "get_nodes"):
        return [node.redis_connection.connection_pool for node in client.get_nodes()
                if node.redis_connection is not None]
    return [client.connection_pool]


def _holds(pool, connection) -> bool:
    """Whether `pool` made `connection` (redis-py keeps them in private collections; `in` is safe
    while other threads change them, where iterating a set is not)."""
    return any(connection in getattr(pool, name, ())
               for name in ("_in_use_connections", "_available_connections", "_connections"))


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
