"""Least Frequently Used: evict the key with the fewest uses; among equals, the one longest at that count.

    _buckets:  1: [c, d]   2: [a]   5: [b]      each read or write of a key moves it one bucket up,
               ^ popitem() takes c              to the end of that bucket; a new key joins bucket 1

Counts start again at 1 when an evicted key comes back. This is cachetools' tie-breaking
(its buckets are ordered dicts too). Remembering the lowest count makes every operation O(1),
except the first popitem() after a del emptied the lowest bucket, which scans the counts once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

from .cache import Cache


class LFUCache(Cache):
    """Least Frequently Used (LFU) cache."""

    def __init__(self, maxsize: float, getsizeof=None):
        super().__init__(maxsize, getsizeof)
        self._counts: dict[Hashable, int] = {}
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}
        self._lowest = 0  # no bucket is lower; after a del it may name an empty bucket

    def popitem(self) -> tuple[Hashable, Any]:
        """Remove and return the (key, value) pair least frequently used."""
        if not self._counts:
            raise self._empty() from None
        if self._lowest not in self._buckets:
            self._lowest = min(self._buckets)
        return self._pop_key(next(iter(self._buckets[self._lowest])))

    def __copy__(self) -> LFUCache:
        clone = super().__copy__()
        clone._counts = dict(self._counts)
        clone._buckets = {count: keys.copy() for count, keys in self._buckets.items()}
        return clone

    def _accessed(self, key: Hashable) -> None:
        count = self._counts[key]
        self._leave(key, count)
        if count == self._lowest and count not in self._buckets:
            self._lowest = count + 1
        self._join(key, count + 1)

    def _stored(self, key: Hashable) -> None:
        if key in self._counts:
            self._accessed(key)
        else:
            self._join(key, 1)
            self._lowest = 1

    def _removed(self, key: Hashable) -> None:
        self._leave(key, self._counts.pop(key))

    def _cleared(self) -> None:
        self._counts.clear()
        self._buckets.clear()
        self._lowest = 0

    def _join(self, key: Hashable, count: int) -> None:
        self._counts[key] = count
        self._buckets.setdefault(count, OrderedDict())[key] = None

    def _leave(self, key: Hashable, count: int) -> None:
        keys = self._buckets[count]
        del keys[key]
        if not keys:
            del self._buckets[count]
