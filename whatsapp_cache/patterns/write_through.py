"""Write-through: every write updates the database, then puts the new value in the cache.

    write: UPDATE ... RETURNING version -> SET record (fixed: only if newer than the cached one)
    read:  as cache-aside

Two writers can reach the cache in the opposite order to the database; the naive SET
then leaves the older value cached. Comparing versions in one script closes that gap.
"""

from __future__ import annotations

from .concurrency import Steps
from ..backends import queue_script
from ..keys import new_token
from .base import StatusPattern, Versioned


class WriteThrough(StatusPattern):
    """Update-on-write; `guarded=False` sets whatever arrives last."""

    def __init__(self, context, guarded: bool = True):
        super().__init__(context)
        self.guarded = guarded
        self.name = "write-through" if guarded else "write-through (naive)"
        self.summary = ("cache updated on write, only by a newer version" if guarded
                        else "cache updated on write by whichever writer arrives last")

    def after_write(self, trace, user_id: str, text: str, version: int) -> Steps:
        keys = self.ctx.keys.status(user_id)
        ttl = self.ctx.ttl_with_jitter()
        record = self._record(Versioned(text, version), ttl)
        # One slot (the user's hash tag), so a MULTI/EXEC also works on a Redis Cluster.
        pipe = self.ctx.redis.pipeline(transaction=True)  # a new generation refuses in-flight fills
        pipe.set(keys.generation, new_token(), px=self.ctx.ttl_ms)
        if self.guarded:
            pipe.delete(*keys.siblings)  # the profile hash caches the same row: one invalidation
            queue_script(self.ctx.scripts.set_if_newer, pipe, [keys.data], [version, ttl, record])
        else:
            pipe.set(keys.data, record, px=ttl)
        yield from self._cache(trace, pipe.execute)
