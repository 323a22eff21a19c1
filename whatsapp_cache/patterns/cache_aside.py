"""Cache-aside (lazy loading), in the seed's naive form and with the stale-set race fixed.

    read:  GET record + claim the generation -> hit? done
           miss -> SELECT -> fill (fixed: only if the generation is unchanged)
    write: UPDATE -> drop the cached record (fixed: and set a new generation)

The race the fix closes (Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013):
a reader misses and reads the old row; a writer updates the row and deletes the key;
the reader then fills the old row, which stays cached until its TTL.
"""

from __future__ import annotations

from .concurrency import Steps
from ..keys import new_token
from .base import StatusPattern


class CacheAside(StatusPattern):
    """Read-through on a miss, delete on write; `guarded=False` is the seed's version."""

    def __init__(self, context, guarded: bool = True):
        super().__init__(context)
        self.guarded = self.guarded_fill = guarded
        self.name = "cache-aside" if guarded else "cache-aside (naive)"
        self.summary = ("fill only if no write came first (generation check)" if guarded
                        else "fill unconditionally: a slow reader can put an old value back")

    def after_write(self, trace, user_id: str, text: str, version: int) -> Steps:
        keys = self.ctx.keys.status(user_id)
        if self.guarded:  # also drops the profile hash: the same row, one invalidation
            yield from self._cache(trace, self.ctx.scripts.invalidate,
                                   keys=[keys.data, keys.generation, *keys.siblings],
                                   args=[self.ctx.ttl_ms, new_token()])
        else:
            yield from self._cache(trace, self.ctx.redis.delete, keys.data)


class TTLOnly(StatusPattern):
    """No invalidation at all: writes go to the database, the cached copy lives out its TTL."""

    name = "TTL only"
    summary = "writes never touch the cache; readers see the old value until it expires"
