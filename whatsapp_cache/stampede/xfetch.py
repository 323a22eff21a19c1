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


def recompute_probability(delta_ms: float, beta: float, ttl_left_ms: float) -> float:
    """P(-delta * beta * ln(U) >= ttl_left) for U uniform on (0, 1]."""
    if ttl_left_ms <= 0:
        return 1.0
    if delta_ms <= 0 or beta <= 0:
        return 0.0
    return math.exp(-ttl_left_ms / (delta_ms * beta))


def should_recompute(entry: Entry, now_ms: int, beta: float, rng: random.Random) -> bool:
    """The XFetch test: -delta * beta * ln(rand()) >= time left until expiry."""
    ttl_left = entry.expires_ms - now_ms
    if ttl_left <= 0:
        return True
    u = 1.0 - rng.random()  # in (0, 1]: ln(0) would be undefined
    return -entry.delta_ms * beta * math.log(u) >= ttl_left


class XFetch(Strategy):
    """Cache-aside read that recomputes early with XFetch's probability (beta defaults to 1)."""

    name = "xfetch"

    def __init__(self, *args, beta: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise InvalidInput("beta must be a positive number")
        self.beta = float(beta)

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        now = self.now()
        if entry is None or not entry.fresh(now):
            return self.load_and_store(name, load)
        if should_recompute(entry, now, self.beta, self.rng):
            return self.load_and_store(name, load, "early")
        return Read(entry.value, "hit")
