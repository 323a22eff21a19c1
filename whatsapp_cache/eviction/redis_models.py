"""Models of Redis' sampled LRU and LFU eviction, replaying a key trace in a fixed number of keys.

Written from Redis 7.0's own source: `src/evict.c` (evictionPoolPopulate, performEvictions,
LFULogIncr, LFUDecrAndReturn, estimateObjectIdleTime), `src/db.c` (lookupKey and updateLFU:
what an access changes), `src/object.c` (createObject: a new key's LRU stamp, or its LFU
counter LFU_INIT_VAL = 5, from `src/server.h`) and `src/dict.c` (dictGetSomeKeys, the sampler).

    GET key  hit  -> LRU: stamp = now                 LFU: counter = LFULogIncr(LFUDecrAndReturn(key))
             miss -> SET key (stamp = now / counter = 5); more keys than `size`? evict one:
    evict:  sample `samples` resident keys, score each (LRU: idle ticks; LFU: 255 - decayed counter),
            insert them into the pool (<= 16 entries, ascending score; a full pool drops its lowest)
            take the pool's rightmost entry; its key is gone (a "ghost")? drop it, take the next;
            the pool ran dry? sample again
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Hashable, Sequence

import numpy as np

from .. import validation
from ..errors import InvalidInput
from ..validation import whole_number

EVPOOL_SIZE = 16  # evict.c
LFU_INIT_VAL = 5  # server.h: a new key's LFU counter
LFU_MAX = 255  # the counter is 8 bits and saturates


def lfu_increment_probability(counter: int, log_factor: int) -> float:
    """The chance that LFULogIncr (evict.c) raises `counter`: 1/((counter-5)*log_factor+1), 1 at or below 5."""
    if counter >= LFU_MAX:
        return 0.0
    return 1.0 / (max(counter - LFU_INIT_VAL, 0) * log_factor + 1)


def lfu_log_incr(counter: int, log_factor: int, rng: random.Random) -> int:
    """One access's logarithmic increment of an LFU counter (evict.c LFULogIncr)."""
    return counter + 1 if rng.random() < lfu_increment_probability(counter, log_factor) else counter


def lfu_decr(counter: int, elapsed_minutes: int, decay_minutes: int) -> int:
    """The counter after idle time (evict.c LFUDecrAndReturn): minus one per `decay_minutes` elapsed."""
    periods = elapsed_minutes // decay_minutes if decay_minutes else 0
    return max(counter - periods, 0)


class _UniformKeys:
    """Resident keys sampled uniformly: distinct random picks standing in for dictGetSomeKeys."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._keys: list[Hashable] = []  # so that a position picks a key
        self._slot: dict[Hashable, int] = {}  # key -> its position in _keys

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._slot

    def __iter__(self):
        return iter(self._keys)

    def add(self, key: Hashable) -> None:
        self._slot[key] = len(self._keys)
        self._keys.append(key)

    def remove(self, key: Hashable) -> None:
        position = self._slot.pop(key)
        last = self._keys.pop()  # the last key fills the hole
        if position < len(self._keys):
            self._keys[position] = last
            self._slot[last] = position

    def sample(self, count: int) -> list[Hashable]:
        keys = self._keys
        return [keys[i] for i in self._rng.sample(range(len(keys)), min(count, len(keys)))]


class _DictKeys:
    """Resident keys in a model of Redis' main dict (dict.c), sampled as dictGetSomeKeys samples them.

    2**k buckets (4 at first, doubled when an insert finds it full), each a chain with the newest key
    at its head; a key's hash is a seeded random number, fixed for the key. dictGetSomeKeys starts at
    a random bucket and walks on, taking whole chains head first, jumping elsewhere after more than
    max(count, 4) empty buckets in a row, for at most 10 * count buckets. Not modelled: incremental
    rehashing (a grown table is rehashed at once) and shrinking (tryResizeHashTables).
    """

    def __init__(self, rng: random.Random, seed: int):
        self._rng = rng
        self._hashes: dict[Hashable, int] = {}  # every key seen, as siphash would always give the same
        self._hash_rng = random.Random(f"dict-hashes-{seed}")
        self._chains: list[list[Hashable]] = [[] for _ in range(4)]  # each chain's head is its last item
        self._mask = 3
        self._members: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._members

    def __iter__(self):
        return iter(self._members)

    def add(self, key: Hashable) -> None:
        digest = self._hashes.get(key)
        if digest is None:
            digest = self._hashes[key] = self._hash_rng.getrandbits(64)
        if len(self._members) > self._mask:  # full: _dictExpandIfNeeded doubles the table
            self._grow()
        self._members.add(key)
        self._chains[digest & self._mask].append(key)

    def remove(self, key: Hashable) -> None:
        self._members.remove(key)
        self._chains[self._hashes[key] & self._mask].remove(key)

    def sample(self, count: int) -> list[Hashable]:
        count = min(count, len(self._members))
        chains, mask, draw = self._chains, self._mask, self._rng.getrandbits
        bucket, empty, picked = draw(64) & mask, 0, []
        for _ in range(count * 10):
            chain = chains[bucket]
            if not chain:
                empty += 1
                if empty >= 5 and empty > count:
                    bucket, empty = draw(64) & mask, 0
            else:
                empty = 0
                for key in reversed(chain):
                    picked.append(key)
                    if len(picked) == count:
                        return picked
            bucket = (bucket + 1) & mask
        return picked

    def _grow(self) -> None:
        """Move every key to a table twice as big, each pushed on its new chain's head (dictRehash)."""
        old, self._mask = self._chains, self._mask * 2 + 1
        self._chains = [[] for _ in range(self._mask + 1)]
        for chain in old:
            for key in reversed(chain):
                self._chains[self._hashes[key] & self._mask].append(key)


# Redis' dictGetSomeKeys walks neighbouring hash buckets from a random start, taking whole chains newest
# key first: not a uniform sample. "dict" (the default) walks a modelled table the same way; "uniform"
# draws distinct resident keys uniformly, the simpler textbook model. On Zipf(1.0) against live Redis 7.0
# the walk is within 0.15 points of live Redis' hit ratio, the uniform sample about 0.3 above it for
# LRU (LFU: about 0 against 0.1).
SAMPLING = {"uniform": _UniformKeys, "dict": _DictKeys}


class _PooledSampling:
    """Resident keys, their sampling and the eviction pool shared by both models.

    Kept from Redis on purpose:
    - The pool outlives each eviction, and its scores are those computed when the key was sampled:
      Redis re-checks only that a pool entry's key still exists, not that it is still idle (or rare),
      so a key used since it was pooled can still be evicted; a key sampled twice is pooled twice.
    - Ties: a new entry goes left of equal scores, so among equals the earliest pooled is evicted
      first; a full pool refuses a candidate that does not beat its lowest entry.
    - Eviction runs before the command after the SET that went over the limit, so the key just added
      is itself a candidate. `size` plays maxmemory, counted in keys: once full, every miss evicts
      exactly one key (evictions = misses - size).
    Randomness is one seeded `random.Random`, not the C library's rand(); the 24-bit LRU clock and
    16-bit LFU minute wrap-arounds (194 days, 45 days) are not modelled.
    """

    def __init__(self, size: int, samples: int, pool_size: int, seed: int, sampling: str):
        self.size = whole_number(size, "size", 1)
        self.samples = whole_number(samples, "samples", 1, 64)  # config.c bounds maxmemory-samples to 1..64
        self.pool_size = whole_number(pool_size, "pool_size", 1)
        self.seed = whole_number(seed, "seed", 0)
        self.sampling = validation.choice(sampling, SAMPLING, "sampling")
        self.requests = 0  # requests replayed so far
        self._now = 0  # the clock at the last request replayed
        self._rng = random.Random(seed)
        self._resident = _UniformKeys(self._rng) if sampling == "uniform" else _DictKeys(self._rng, seed)
        self._pool_scores: list[int] = []  # ascending: the best candidate is last
        self._pool_keys: list[Hashable] = []

    def __len__(self) -> int:
        return len(self._resident)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._resident

    def keys(self) -> list[Hashable]:
        """The resident keys (in no particular order)."""
        return list(self._resident)

    @property
    def pool(self) -> list[tuple[int, Hashable]]:
        """The eviction pool as (score, key), worst candidate first; entries may be stale or ghosts."""
        return list(zip(self._pool_scores, self._pool_keys))

    def delete(self, key: Hashable) -> bool:
        """Remove a key as DEL would: its pool entries stay behind as ghosts. Whether it was there."""
        if key not in self._resident:
            return False
        self._resident.remove(key)
        self._forget(key)
        return True

    def _ticks(self, count: int, seconds, requests_per_tick: int, seconds_per_tick: int) -> list[int]:
        """The clock at each of the next `count` requests, from `seconds` if given, else from the request index.

        Redis' LRU clock counts seconds (LRU_CLOCK_RESOLUTION, server.h; serverCron refreshes it 10 times
        a second) and LFU decay counts minutes (LFUGetTimeInMinutes). Without `seconds` the models count
        requests: an LRU tick every `requests_per_second` requests (default 1: exact recency among the
        sampled) and an LFU minute every `requests_per_minute` (default 1,000,000: a 300,000-request trace
        on a fresh model never decays). A live server answering R requests a second ranks by whole
        seconds, much coarser: pass requests_per_second=R, or `seconds` (live.LiveResult.request_seconds()).
        """
        if seconds is None:
            clock = (np.arange(self.requests, self.requests + count, dtype=np.int64) // requests_per_tick).tolist()
        else:
            clock = (_seconds(seconds, count) // seconds_per_tick).tolist()
        self.requests += count
        if clock:
            self._now = clock[-1]
        return clock

    def _evict(self, now: int) -> Hashable:
        """performEvictions for one key: populate the pool, then take its best entry that still exists."""
        scores, keys, resident = self._pool_scores, self._pool_keys, self._resident
        while True:
            self._populate(now)
            while keys:
                scores.pop()
                key = keys.pop()
                if key in resident:
                    resident.remove(key)
                    self._forget(key)
                    return key

    def _populate(self, now: int) -> None:
        """evictionPoolPopulate: score a sample of resident keys and keep the best in the pool."""
        scores, keys = self._pool_scores, self._pool_keys
        sampled = self._resident.sample(self.samples)
        for key, score in zip(sampled, self._scores(sampled, now)):
            at = bisect_left(scores, score)  # left of equal scores, as Redis inserts
            if len(scores) >= self.pool_size:
                if at == 0:
                    continue  # no better than the worst entry of a full pool
                del scores[0], keys[0]
                at -= 1
            scores.insert(at, score)
            keys.insert(at, key)

    def _scores(self, keys: list[Hashable], now: int) -> list[int]:
        """Eviction scores of resident keys: the higher, the better a candidate."""
        raise NotImplementedError

    def _forget(self, key: Hashable) -> None:
        raise NotImplementedError


class RedisLRUModel(_PooledSampling):
    """Redis' allkeys-lru: sampled idle times and a pool of the 16 best candidates (evict.c)."""

    def __init__(self, size: int, samples: int = 5, pool_size: int = EVPOOL_SIZE, seed: int = 0,
                 requests_per_second: int = 1, sampling: str = "dict"):
        super().__init__(size, samples, pool_size, seed, sampling)
        self.requests_per_second = whole_number(requests_per_second, "requests_per_second", 1)
        self._stamp: dict[Hashable, int] = {}  # key -> LRU clock at its last access (robj->lru)

    def idle(self, key: Hashable) -> int:
        """Clock ticks since the key's last access, at the last request replayed (OBJECT IDLETIME)."""
        return self._now - self._stamp[key]

    def replay(self, trace: Sequence[Hashable] | np.ndarray,
               seconds: Sequence[int] | np.ndarray | None = None) -> tuple[int, int, int]:
        """GET each key, SET it on a miss, evicting as Redis would: (hits, misses, evictions)."""
        keys = _trace(trace)
        clock = self._ticks(len(keys), seconds, self.requests_per_second, 1)
        stamp, size, add, evict = self._stamp, self.size, self._resident.add, self._evict
        misses = evictions = 0
        for key, now in zip(keys, clock):
            if key in stamp:
                stamp[key] = now
                continue
            misses += 1
            add(key)
            stamp[key] = now
            if len(stamp) > size:
                evict(now)
                evictions += 1
        return len(keys) - misses, misses, evictions

    def _scores(self, keys: list[Hashable], now: int) -> list[int]:
        stamp = self._stamp
        return [now - stamp[key] for key in keys]  # estimateObjectIdleTime, in ticks

    def _forget(self, key: Hashable) -> None:
        del self._stamp[key]


class RedisLFUModel(_PooledSampling):
    """Redis' allkeys-lfu: 8-bit logarithmic counters with decay, sampled into the same pool (evict.c)."""

    def __init__(self, size: int, samples: int = 5, log_factor: int = 10, decay_minutes: int = 1, seed: int = 0,
                 pool_size: int = EVPOOL_SIZE, requests_per_minute: int = 1_000_000, sampling: str = "dict"):
        super().__init__(size, samples, pool_size, seed, sampling)
        self.log_factor = whole_number(log_factor, "log_factor", 0)
        self.decay_minutes = whole_number(decay_minutes, "decay_minutes", 0)
        self.requests_per_minute = whole_number(requests_per_minute, "requests_per_minute", 1)
        self._lfu: dict[Hashable, int] = {}  # key -> minute of last access << 8 | counter, as robj->lru
        self._chance = [lfu_increment_probability(c, self.log_factor) for c in range(LFU_MAX + 1)]

    def frequency(self, key: Hashable) -> int:
        """The key's counter after decay, at the last request replayed (OBJECT FREQ)."""
        return self._decayed(self._lfu[key], self._now)

    def replay(self, trace: Sequence[Hashable] | np.ndarray,
               seconds: Sequence[int] | np.ndarray | None = None) -> tuple[int, int, int]:
        """GET each key, SET it on a miss, evicting as Redis would: (hits, misses, evictions)."""
        keys = _trace(trace)
        clock = self._ticks(len(keys), seconds, self.requests_per_minute, 60)
        lfu, size, decay, chance = self._lfu, self.size, self.decay_minutes, self._chance
        draw, add, evict = self._rng.random, self._resident.add, self._evict
        misses = evictions = 0
        for key, minute in zip(keys, clock):
            packed = lfu.get(key)
            if packed is None:
                misses += 1
                add(key)
                lfu[key] = minute << 8 | LFU_INIT_VAL
                if len(lfu) > size:
                    evict(minute)
                    evictions += 1
                continue
            counter = packed & 255
            if decay:
                periods = (minute - (packed >> 8)) // decay
                if periods:
                    counter = counter - periods if counter > periods else 0
            if draw() < chance[counter]:
                counter += 1
            lfu[key] = minute << 8 | counter
        return len(keys) - misses, misses, evictions

    def _decayed(self, packed: int, minute: int) -> int:
        return lfu_decr(packed & 255, minute - (packed >> 8), self.decay_minutes)

    def _scores(self, keys: list[Hashable], now: int) -> list[int]:
        lfu, decayed = self._lfu, self._decayed
        return [LFU_MAX - decayed(lfu[key], now) for key in keys]  # inverse frequency, as evict.c scores LFU

    def _forget(self, key: Hashable) -> None:
        del self._lfu[key]


def _trace(trace) -> list | tuple:
    if isinstance(trace, np.ndarray):
        if trace.ndim != 1:
            raise InvalidInput(f"trace must be one-dimensional, got shape {trace.shape}")
        return trace.tolist()  # plain ints hash far faster than numpy scalars
    if isinstance(trace, (list, tuple)):
        return trace
    if isinstance(trace, (str, bytes)) or not isinstance(trace, Sequence):
        raise InvalidInput(f"trace must be a sequence of keys, got {type(trace).__name__}")
    return list(trace)


def _seconds(seconds, count: int) -> np.ndarray:
    """Per-request Unix seconds: whole numbers that never go backwards, one per request."""
    array = np.asarray(seconds)
    if array.shape != (count,) or (count and array.dtype.kind not in "iu"):
        raise InvalidInput(f"seconds must hold one whole number per request ({count}), got shape {array.shape}")
    if count and (array[0] < 0 or np.any(np.diff(array) < 0)):
        raise InvalidInput("seconds must be non-negative and never go backwards")
    return array.astype(np.int64)



def model_hit_ratio(model: "_PooledSampling", trace, seconds=None) -> float:
    """Replay `trace` through a Redis eviction model (fresh or not) and return hits / requests."""
    hits, misses, _ = model.replay(trace, seconds=seconds)
    return hits / (hits + misses) if hits + misses else 0.0
