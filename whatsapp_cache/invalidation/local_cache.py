"""An app server's in-process cache: bounded, with a per-entry TTL on the injected clock.

It sits in front of Redis in the pub/sub invalidation lessons; its short TTL is the
safety net for invalidations that never arrive. Its entries live in the project's FIFOCache
(eviction/fifo.py): a rewritten key is the newest, the oldest written goes first, reads move nothing.
"""

from __future__ import annotations

import threading
from typing import Any, Hashable

from ..clock import Clock
from ..errors import InvalidInput
from ..eviction.fifo import FIFOCache

_MISSING = object()


class LocalCache:
    """A dict with expiry and a size bound (the oldest entry goes first)."""

    def __init__(self, clock: Clock, ttl_ms: int, maxsize: int = 10_000):
        if ttl_ms <= 0 or maxsize <= 0:
            raise InvalidInput("ttl_ms and maxsize must be positive")
        self.clock = clock
        self.ttl_ms = ttl_ms
        self.maxsize = maxsize
        self._entries = FIFOCache(maxsize)  # key -> (expires at ms, value)
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            expires, value = self._entries.get(key, (0, _MISSING))
            if value is _MISSING or expires <= self.clock.now_ms():
                self._entries.pop(key, None)
                return default
            return value

    def set(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = (self.clock.now_ms() + self.ttl_ms, value)

    def delete(self, key: Hashable) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key, _MISSING) is not _MISSING
