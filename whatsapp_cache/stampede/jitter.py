"""Jittered TTL: the seed's "stagger TTLs" (ttl + random extra), otherwise like none.

    reader --GET--> fresh? --yes--> hit
                      |no
                      v
                    load() --SET PX ttl + uniform(0, jitter)--> loaded

Jitter spreads the expiries of MANY keys written together (after a deploy or a cache
flush), so they do not all miss at once. It does nothing for ONE hot key: when that
key expires, every concurrent reader still misses and loads.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..ttl import jittered_ttl
from .base import Loader, Read, Strategy


class Jitter(Strategy):
    """Each stored entry lives ttl_ms + uniform(0, jitter_ms); jitter_ms defaults to ttl_ms / 10."""

    name = "jitter"

    def __init__(self, *args, jitter_ms: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.jitter_ms = self.ttl_ms // 10 if jitter_ms is None else int(jitter_ms)
        if self.jitter_ms < 0:
            raise InvalidInput("jitter_ms must be non-negative")

    def lifetime_ms(self) -> int:
        return jittered_ttl(self.ttl_ms, self.jitter_ms, self.rng)

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        if entry is not None and entry.fresh(self.now()):
            return Read(entry.value, "hit")
        return self.load_and_store(name, load)
