"""Cache stampede protection for ONE hot value, one module per strategy.

    none    miss -> load -> SET PX                    (the stampede)
    jitter  as none, TTL + random extra               (spreads many keys, not one)
    lock    SET NX PX token, bounded wait, stale      (one loader per expiry)
    xfetch  early recompute, P = exp(-left/(delta*beta)) (refresh before expiry)

    strategy = make_strategy("lock", world.redis, world.keys, ttl_ms=60_000, clock=world.clock)
    read = strategy.get("profile:u000001", load=lambda: repo.profile("u000001"))
    read.value, read.outcome, read.waited_ms

herd.run_herd() hammers one key with real threads and counts database loads per expiry.
"""

from __future__ import annotations

from .. import validation
from .base import Entry, Read, Strategy
from .jitter import Jitter
from .lock import Lock
from .none import NoProtection
from .seed import SeedEarlyRefresh, SeedLock
from .xfetch import XFetch, recompute_probability, should_recompute

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (NoProtection, Jitter, Lock, XFetch)}
SEED_STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (SeedLock, SeedEarlyRefresh)}  # to show failing


def make_strategy(name: str, client, keys=None, **options) -> Strategy:
    """A strategy by name ("none", "jitter", "lock", "xfetch", or the seed's "seed-lock", "seed-early")."""
    every = {**STRATEGIES, **SEED_STRATEGIES}
    return every[validation.choice(name, every, "strategy")](client, keys, **options)


__all__ = ["Entry", "Jitter", "Lock", "NoProtection", "Read", "SEED_STRATEGIES", "STRATEGIES", "SeedEarlyRefresh",
           "SeedLock", "Strategy", "XFetch", "make_strategy", "recompute_probability", "should_recompute"]
