"""The base of every eviction policy: a bounded mapping that owns storage and size accounting.

A policy subclass adds only its ordering structure, kept current by four hooks, and
overrides `popitem()` to pick its victim:

    cache[key] (hit)   -> _accessed(key)     LRU moves the key up, LFU counts it, FIFO does nothing
    cache[key] = value -> evict until it fits, store, _stored(key)
    del cache[key]     -> _removed(key)
    clear()            -> _cleared()

The interface and semantics are those of cachetools' `Cache`.
"""

from __future__ import annotations

from collections import OrderedDict

from collections.abc import MutableMapping
from numbers import Real
from typing import Any, Callable, Hashable, Iterator

from ..errors import InvalidInput

_MARKER = object()


class Cache(MutableMapping):
    """A mapping of at most `maxsize` total size; without a policy it evicts an arbitrary item.

    As in cachetools, `maxsize=0` is allowed: a cache that stores nothing (every insert of a
    value of size 1 raises "value too large", a ValueError). A cache object copies, deep-copies
    and pickles like cachetools' (its own state is plain dicts; the library itself never pickles).
    """

    def __init__(self, maxsize: float, getsizeof: Callable[[Any], float] | None = None):
        if isinstance(maxsize, bool) or not isinstance(maxsize, Real) or not maxsize >= 0:
            raise InvalidInput(f"maxsize must be a number >= 0, got {maxsize!r}")
        if getsizeof is not None:
            if not callable(getsizeof):
                raise InvalidInput(f"getsizeof must be callable, got {getsizeof!r}")
            self.getsizeof = getsizeof
        self._maxsize = maxsize
        self._currsize = 0
        self._data: dict[Hashable, Any] = {}
        self._sizes: dict[Hashable, float] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r}, maxsize={self._maxsize!r}, currsize={self._currsize!r})"

    def __getitem__(self, key: Hashable) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            value = self.__missing__(key)
        if key in self._data:  # a __missing__ override may have stored it: that counts as a use too
            self._accessed(key)
        return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        size = self.getsizeof(value)
        if size > self._maxsize:
            raise InvalidInput("value too large")
        if size < 0:
            raise InvalidInput("value size must be non-negative")
        # The old value's size is freed; eviction may even take `key` itself, which then counts as new.
        while self._currsize - self._sizes.get(key, 0) + size > self._maxsize:
            self.popitem()
        self._currsize += size - self._sizes.get(key, 0)
        self._data[key] = value
        self._sizes[key] = size
        self._stored(key)

    def __delitem__(self, key: Hashable) -> None:
        del self._data[key]
        self._currsize -= self._sizes.pop(key)
        self._removed(key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __missing__(self, key: Hashable) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __copy__(self) -> Cache:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._data, clone._sizes = dict(self._data), dict(self._sizes)
        return clone

    # get, pop and setdefault test membership first, so a __missing__ override never runs for them.

    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the value for `key` (a use of it) if present, else `default`."""
        return self[key] if key in self else default

    def pop(self, key: Hashable, default: Any = _MARKER) -> Any:
        """Remove `key` and return its value, else `default`, else raise KeyError."""
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default is _MARKER:
            raise KeyError(key)
        return default

    def setdefault(self, key: Hashable, default: Any = None) -> Any:
        """Return the value for `key` (a use of it), storing `default` first if it is absent."""
        if key in self:
            return self[key]
        self[key] = default
        return default

    def clear(self) -> None:
        """Remove every item at once (not one popitem() at a time)."""
        self._data.clear()
        self._sizes.clear()
        self._currsize = 0
        self._cleared()

    @property
    def maxsize(self) -> float:
        """The maximum total size of the cache."""
        return self._maxsize

    @property
    def currsize(self) -> float:
        """The current total size of the cache."""
        return self._currsize

    @staticmethod
    def getsizeof(value: Any) -> float:
        """Return the size of one value: 1, unless a `getsizeof` function was given."""
        return 1

    def _pop_key(self, key: Hashable) -> tuple[Hashable, Any]:
        """Remove `key` without counting a use, and return its (key, value) pair."""
        value = self._data[key]
        del self[key]
        return key, value

    def _empty(self) -> KeyError:
        """The error of popitem() on an empty cache; raise it `from None`, as cachetools and dict do."""
        return KeyError(f"{type(self).__name__} is empty")

    def _accessed(self, key: Hashable) -> None:
        """A read of a stored key."""

    def _stored(self, key: Hashable) -> None:
        """A write of `key`, new or not."""

    def _removed(self, key: Hashable) -> None:
        """`key` has left the cache."""

    def _cleared(self) -> None:
        """Every key has left the cache."""


class QueueCache(Cache):
    """A cache that keeps its keys in one queue and evicts from the front; subclasses say what moves a key back."""

    def __init__(self, maxsize: float, getsizeof=None):
        super().__init__(maxsize, getsizeof)
        self._order: OrderedDict[Hashable, None] = OrderedDict()

    def popitem(self) -> tuple[Hashable, Any]:
        """Remove and return the (key, value) pair at the front of the queue."""
        if not self._order:
            raise self._empty() from None
        return self._pop_key(next(iter(self._order)))

    def __copy__(self) -> "QueueCache":
        clone = super().__copy__()
        clone._order = self._order.copy()
        return clone

    def _stored(self, key: Hashable) -> None:
        self._order[key] = None
        self._order.move_to_end(key)

    def _removed(self, key: Hashable) -> None:
        del self._order[key]

    def _cleared(self) -> None:
        self._order.clear()
