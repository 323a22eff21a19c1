"""Least Recently Used: evict the key whose last read or write is oldest.

    _order:  oldest use ... newest use        a read or a write moves the key to the right
             ^ popitem() takes this one
"""

from __future__ import annotations

from typing import Hashable

from .cache import QueueCache


class LRUCache(QueueCache):
    """Least Recently Used (LRU) cache."""

    def _accessed(self, key: Hashable) -> None:
        self._order.move_to_end(key)
