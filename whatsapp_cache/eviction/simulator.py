"""Replay a trace of keys through a policy of a given size and count hits, misses and evictions.

    trace: k7 k1 k7 k3 ...  ->  each key: hit? use it : insert it (evicting as needed)  ->  SimulationResult

"lru", "lfu" and "fifo" run loops specialised per policy, with the same hits as LRUCache, LFUCache
and FIFOCache (and cachetools) but several times faster; "redis-lru" and "redis-lfu" run the
sampled models of Redis' approximations in `redis_models`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import MutableMapping, Sequence
from dataclasses import asdict, dataclass
from numbers import Integral
from typing import Any, Hashable

import numpy as np

from ..errors import InvalidInput
from . import redis_models
from .fifo import FIFOCache
from .lfu import LFUCache
from .lru import LRUCache
from ..tables import Column, format_table

POLICIES = ("lru", "lfu", "fifo", "redis-lru", "redis-lfu")


@dataclass(frozen=True)
class SimulationResult:
    """What one policy of one size did with one trace."""

    policy: str
    size: int
    requests: int
    hits: int
    misses: int
    hit_ratio: float
    evictions: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def simulate(trace: Sequence[Hashable] | np.ndarray, policy: str, size: int, **options: Any) -> SimulationResult:
    """Replay `trace` through `policy` holding at most `size` keys; options go to the Redis models."""
    keys = _keys(trace)
    size = _size(size)
    if policy not in POLICIES:
        raise InvalidInput(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if policy in _EXACT:
        if options:
            raise InvalidInput(f"policy {policy!r} takes no options, got {sorted(options)}")
        try:
            hits, misses, evictions = _EXACT[policy](keys, size)
        except TypeError as exc:  # the only thing these loops can trip on: an unhashable key
            raise InvalidInput(f"trace keys must be hashable: {exc}") from exc
    else:
        hits, misses, evictions = _redis_model(policy, size, options).replay(keys)
    return SimulationResult(policy, size, len(keys), hits, misses, hits / len(keys) if keys else 0.0, evictions)


def replay(cache: MutableMapping, trace: Sequence[Hashable]) -> tuple[int, int, int]:
    """Replay `trace` through any cache mapping (get; insert on a miss): (hits, misses, evictions)."""
    get = cache.get
    start = len(cache)
    misses = 0
    for key in trace:
        if get(key, _ABSENT) is _ABSENT:
            cache[key] = True
            misses += 1
    return len(trace) - misses, misses, misses - (len(cache) - start)


def format_results(results: Sequence[SimulationResult]) -> str:
    """A fixed-width table: policy, size, hit ratio, hits, misses, evictions, requests."""
    columns = (Column("policy", "<", width=10), Column("size", width=9), Column("hit ratio", format=".4f"),
               *(Column(name, width=10) for name in ("hits", "misses", "evictions", "requests")))
    return format_table(columns, [(r.policy, r.size, r.hit_ratio, r.hits, r.misses, r.evictions, r.requests)
                                  for r in results])


_ABSENT = object()


def _keys(trace: Any) -> list | tuple:
    """The trace as a sequence of plain Python keys (numpy scalars hash far slower)."""
    if isinstance(trace, np.ndarray):
        if trace.ndim != 1:
            raise InvalidInput(f"trace must be one-dimensional, got shape {trace.shape}")
        return trace.tolist()
    if isinstance(trace, (str, bytes)) or not isinstance(trace, Sequence):
        raise InvalidInput(f"trace must be a sequence of keys, got {type(trace).__name__}")
    return trace


def _size(size: Any) -> int:
    """`size` as an int, if it is a positive integer of any kind (numpy's too)."""
    if isinstance(size, bool) or not isinstance(size, Integral) or size <= 0:
        raise InvalidInput(f"size must be a positive integer, got {size!r}")
    return int(size)


def _redis_model(policy: str, size: int, options: dict[str, Any]):
    model = redis_models.RedisLRUModel if policy == "redis-lru" else redis_models.RedisLFUModel
    try:
        return model(size, **options)
    except TypeError as exc:  # an option the model does not take
        raise InvalidInput(f"bad option for {policy}: {exc}") from exc


# The loops below inline each policy's ordering structure; locals are bound once for speed.

def _lru(keys: Sequence[Hashable], size: int) -> tuple[int, int, int]:
    order: OrderedDict[Hashable, None] = OrderedDict()
    use, evict = order.move_to_end, order.popitem
    misses = evictions = 0
    for key in keys:
        if key in order:
            use(key)
        else:
            misses += 1
            if len(order) >= size:
                evict(last=False)
                evictions += 1
            order[key] = None
    return len(keys) - misses, misses, evictions


def _fifo(keys: Sequence[Hashable], size: int) -> tuple[int, int, int]:
    present: set[Hashable] = set()
    queue: deque[Hashable] = deque()
    add, remove, push, oldest = present.add, present.remove, queue.append, queue.popleft
    misses = evictions = 0
    for key in keys:
        if key not in present:
            misses += 1
            if len(present) >= size:
                remove(oldest())
                evictions += 1
            add(key)
            push(key)
    return len(keys) - misses, misses, evictions


def _lfu(keys: Sequence[Hashable], size: int) -> tuple[int, int, int]:
    counts: dict[Hashable, int] = {}
    # buckets[count]: the keys used `count` times, in the order they got there (None when there are none)
    buckets: list[OrderedDict[Hashable, None] | None] = [None, None]
    lowest = 0
    misses = evictions = 0
    for key in keys:
        count = counts.get(key)
        if count is not None:
            up = count + 1
            counts[key] = up
            if up == len(buckets):
                buckets.append(None)
            bucket, higher = buckets[count], buckets[up]
            if len(bucket) == 1:  # a hot key alone at its count: move its bucket up, allocate nothing
                buckets[count] = None
                if count == lowest:
                    lowest = up
                if higher is None:
                    buckets[up] = bucket
                else:
                    higher[key] = None
            else:
                del bucket[key]
                if higher is None:
                    buckets[up] = OrderedDict(((key, None),))
                else:
                    higher[key] = None
        else:
            misses += 1
            if len(counts) >= size:
                bucket = buckets[lowest]
                del counts[bucket.popitem(last=False)[0]]
                if not bucket:
                    buckets[lowest] = None
                evictions += 1
            counts[key] = 1
            lowest = 1
            bucket = buckets[1]
            if bucket is None:
                buckets[1] = OrderedDict(((key, None),))
            else:
                bucket[key] = None
    return len(keys) - misses, misses, evictions


_EXACT = {"lru": _lru, "lfu": _lfu, "fifo": _fifo}


def compare_policies(trace, size: int, policies: Sequence[str] = ("lru", "lfu", "fifo")) -> dict[str, float]:
    """The hit ratio of each policy on one trace at one cache size."""
    return {policy: simulate(trace, policy, size).hit_ratio for policy in policies}


def request_hits(trace, policy: str, size: int) -> np.ndarray:
    """Whether each request hit, replayed on the policy's cache class (slower; for per-request views)."""
    classes = {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache}
    if policy not in classes:
        raise InvalidInput(f"per-request hits are available for {sorted(classes)}, not {policy!r}")
    cache = classes[policy](_size(size))
    hits = np.zeros(len(trace), dtype=bool)
    for index, key in enumerate(_keys(trace)):
        if key in cache:
            cache[key]
            hits[index] = True
        else:
            cache[key] = True
    return hits


def hit_ratio_over_time(trace, size: int, windows: int = 20,
                        policies: Sequence[str] = ("lru", "lfu", "fifo")) -> dict[str, np.ndarray]:
    """Each policy's hit ratio in `windows` equal, consecutive slices of the trace (the last takes any rest)."""
    if isinstance(windows, bool) or not isinstance(windows, Integral) or not 1 <= windows <= max(1, len(trace)):
        raise InvalidInput(f"windows must be a whole number from 1 to the trace's length, got {windows!r}")
    edges = np.linspace(0, len(trace), int(windows) + 1).astype(int)
    return {policy: np.add.reduceat(request_hits(trace, policy, size), edges[:-1]) / np.diff(edges)
            for policy in policies}
