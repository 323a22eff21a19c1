"""Chapter 04's answers the exercise checks must reject: typical wrong LRUs and LFUs.

The seed has no eviction code of its own (it configures Redis with allkeys-lru); its sizing assumes
everything fits, so the wrong answers here are the ones learners and interview candidates write.
"""


class LRUByInsertionOrder:
    """A dict keeps insertion order: evicting its first key is FIFO, not LRU."""

    def __init__(self, capacity):
        self.capacity, self.data = capacity, {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        evicted = None
        if key not in self.data and len(self.data) >= self.capacity:
            evicted = next(iter(self.data))
            del self.data[evicted]
        self.data[key] = value
        return evicted


class LRUNotRefreshedOnRead(LRUByInsertionOrder):
    """Moves a key on put, forgets that a get is a use too."""

    def put(self, key, value):
        self.data.pop(key, None) if key in self.data else None
        return super().put(key, value)


class LRUEvictingTheNewest(LRUByInsertionOrder):
    def get(self, key):
        if key in self.data:
            self.data[key] = self.data.pop(key)
        return self.data.get(key)

    def put(self, key, value):
        evicted = None
        if key in self.data:
            del self.data[key]
        elif len(self.data) >= self.capacity:
            evicted = next(reversed(self.data))  # the wrong end
            del self.data[evicted]
        self.data[key] = value
        return evicted


class LRUWithAList:
    """Right answers, O(n) per use: list.remove walks the keys."""

    def __init__(self, capacity):
        self.capacity, self.data, self.order = capacity, {}, []

    def get(self, key):
        if key not in self.data:
            return None
        self.order.remove(key)
        self.order.append(key)
        return self.data[key]

    def put(self, key, value):
        evicted = None
        if key in self.data:
            self.order.remove(key)
        elif len(self.data) >= self.capacity:
            evicted = self.order.pop(0)
            del self.data[evicted]
        self.data[key] = value
        self.order.append(key)
        return evicted


class LRUOneShort(LRUEvictingTheNewest):
    def put(self, key, value):
        evicted = None
        if key in self.data:
            del self.data[key]
        elif len(self.data) >= self.capacity - 1:  # keeps capacity - 1 keys
            evicted = next(iter(self.data))
            del self.data[evicted]
        self.data[key] = value
        return evicted


class _CountingLFU:
    """Base of the wrong LFUs: values and counts, eviction picks by `_victim`."""

    def __init__(self, capacity):
        self.capacity, self.data, self.counts, self.clock, self.since = capacity, {}, {}, 0, {}

    def get(self, key):
        if key not in self.data:
            return None
        self._use(key)
        return self.data[key]

    def put(self, key, value):
        evicted = None
        if key in self.data:
            self._overwrite(key)
        else:
            if len(self.data) >= self.capacity:
                evicted = self._victim()
                del self.data[evicted]
                self._forget(evicted)
            self.counts[key] = self.counts.get(key, 0) + 1
            self._stamp(key)
        self.data[key] = value
        return evicted

    def _use(self, key):
        self.counts[key] += 1
        self._stamp(key)

    def _overwrite(self, key):
        self._use(key)

    def _stamp(self, key):
        self.clock += 1
        self.since[key] = self.clock

    def _forget(self, key):
        del self.counts[key]

    def _victim(self):  # fewest uses; among equals, the one at that count longest (right)
        return min(self.data, key=lambda k: (self.counts[k], self.since[k]))


class LFUForgettingCountsOnOverwrite(_CountingLFU):
    def _overwrite(self, key):
        self.counts[key] = 1  # "a new value, a new start"
        self._stamp(key)


class LFUBreakingTiesByInsertion(_CountingLFU):
    def put(self, key, value):
        if key not in self.data:
            self.inserted = getattr(self, "inserted", {})
            self.inserted[key] = self.clock
        return super().put(key, value)

    def _victim(self):
        return min(self.data, key=lambda k: (self.counts[k], self.inserted[k]))


class LFUBreakingTiesByNewest(_CountingLFU):
    def _victim(self):
        return min(self.data, key=lambda k: (self.counts[k], -self.since[k]))


class LFURememberingEvictedCounts(_CountingLFU):
    def _forget(self, key):
        pass  # the count stays, and counts on when the key comes back


class LFUCountingOnlyPuts(_CountingLFU):
    def get(self, key):
        return self.data.get(key)


WRONG = {
    "LRU": [
        ("evicts by insertion order", LRUByInsertionOrder, "an overwrite is a use"),
        ("a read does not refresh", LRUNotRefreshedOnRead, "a read is a use"),
        ("evicts the newest", LRUEvictingTheNewest, "when full, a put evicts the key used longest ago"),
        ("keeps capacity - 1 keys", LRUOneShort, "returns what was put"),
        ("a list for the order (O(n))", LRUWithAList, "every operation is O(1)"),
    ],
    "LFU": [
        ("counts only puts", LFUCountingOnlyPuts, "when full, a put evicts the key with the fewest uses"),
        ("an overwrite resets the count", LFUForgettingCountsOnOverwrite, "an overwrite is a use"),
        ("ties broken by insertion order", LFUBreakingTiesByInsertion, "among equal counts"),
        ("ties broken by the newest", LFUBreakingTiesByNewest, "when full, a put evicts the key with the fewest"),
        ("evicted keys keep their counts", LFURememberingEvictedCounts, "counts start again"),
    ],
}
