"""XFetch: probabilistic early recomputation (Vattani, Chierichetti and Lowenstein, VLDB 2015).

    reader --GET--> missing or expired? --yes--> load()                        -> loaded
                      |no
                      v
             -delta * beta * ln(rand()) >= ttl_left ? --yes--> load() early   -> early
                      |no
                      v
                     hit

delta is how long the last load took, stored WITH the value, next to its expiry. The
chance to recompute, exp(-ttl_left / (delta * beta)), is tiny while the value is young
and rises towards 1 as expiry nears, so under steady traffic one reader usually refreshes
the value shortly before it expires and the herd never sees a miss. beta > 1 recomputes
earlier, beta < 1 later. This replaces the seed's ad hoc "10% when under 5 minutes left".
"""

from __future__ import annotations

import math
import random

from ..errors import InvalidInput
from .base import Entry, Loader, Read, Strategy
from .lock import acquire_lock, release_lock


def recompute_probability(delta_ms: float, beta: float, ttl_left_ms: float) -> float:
    """P(-delta * beta * ln(U) >= ttl_left) for U uniform on (0, 1]."""
    if ttl_left_ms <= 0:
        return 1.0
    if delta_ms <= 0 or beta <= 0:
        return 0.0
    return math.exp(-ttl_left_ms / (delta_ms * beta))


def xfetch_decision(ttl_left_ms: float, delta_ms: float, beta: float, u: float) -> bool:
    """XFetch's test for one draw u in (0, 1]: recompute when -delta * beta * ln(u) >= the time left.
    Past expiry it is always True (the left side is never negative)."""
    return -delta_ms * beta * math.log(u) >= ttl_left_ms


def should_recompute(entry: Entry, now_ms: int, beta: float, rng: random.Random, decide=xfetch_decision) -> bool:
    """The XFetch test on a stored entry; an expired one is recomputed without a draw."""
    ttl_left = entry.expires_ms - now_ms
    if ttl_left <= 0:
        return True
    u = 1.0 - rng.random()  # in (0, 1]: ln(0) would be undefined
    return bool(decide(ttl_left, entry.delta_ms, beta, u))


class XFetch(Strategy):
    """Cache-aside read that recomputes early with XFetch's probability (beta defaults to 1).

    With many concurrent readers, several can win the draw while the first recompute runs (measured:
    5-20 loads per expiry for 100 threads). `single_flight=True` (the default) lets only the winner
    that also takes the lock (SET NX PX, token, compare-and-delete) recompute; the others keep serving
    the still-fresh value, so nobody ever waits.
    """

    name = "xfetch"

    def __init__(self, *args, beta: float = 1.0, single_flight: bool = True, lock_ms: int = 2000,
                 decide=xfetch_decision, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise InvalidInput("beta must be a positive number")
        if isinstance(lock_ms, bool) or not isinstance(lock_ms, int) or lock_ms <= 0:
            raise InvalidInput("lock_ms must be a positive integer")
        self.beta, self.single_flight, self.lock_ms = float(beta), bool(single_flight), lock_ms
        self.decide = decide  # xfetch_decision; chapter 05's exercise plugs a learner's in here

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        now = self.now()
        if entry is None or not entry.fresh(now):
            return self.load_and_store(name, load)
        if not should_recompute(entry, now, self.beta, self.rng, self.decide):
            return Read(entry.value, "hit")
        if not self.single_flight:
            return self.load_and_store(name, load, "early")
        lock = self.keys.lock(name)
        token = acquire_lock(self.redis, lock, self.lock_ms)
        if token is None:
            return Read(entry.value, "hit")  # another reader is already recomputing
        try:
            return self.load_and_store(name, load, "early")
        finally:
            release_lock(self.redis, lock, token)
