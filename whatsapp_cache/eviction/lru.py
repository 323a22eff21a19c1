"""Least Recently Used: evict the key whose last read or write is oldest.

    _order:  oldest use ... newest use        a read or a write moves the key to the right
             ^ popitem() takes this one
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

from .cache import Cache


class LRUCache(Cache):
    """Least Recently Used (LRU) cache."""

    def __init__(self, maxsize: float, getsizeof=None):
        super().__init__(maxsize, getsizeof)
        self._order: OrderedDict[Hashable, None] = OrderedDict()

    def popitem(self) -> tuple[Hashable, Any]:
        """Remove and return the (key, value) pair least recently used."""
        if not self._order:
            raise self._empty()
        return self._pop_key(next(iter(self._order)))

    def __copy__(self) -> LRUCache:
        clone = super().__copy__()
        clone._order = self._order.copy()
        return clone

    def _accessed(self, key: Hashable) -> None:
        self._order.move_to_end(key)

    def _stored(self, key: Hashable) -> None:
        self._order[key] = None
        self._order.move_to_end(key)

    def _removed(self, key: Hashable) -> None:
        del self._order[key]

    def _cleared(self) -> None:
        self._order.clear()
