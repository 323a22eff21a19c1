"""The caching patterns of the seed, as swappable strategies over one piece of data.

Each pattern caches users' status messages; `make(name, context)` builds one by name.
"""

from __future__ import annotations

from .. import validation
from .base import PatternContext, StatusPattern, Versioned
from .cache_aside import CacheAside, TTLOnly
from .write_behind import WriteBehind, WriteBehindWorker
from .write_through import WriteThrough

PATTERNS = {
    "cache-aside": lambda ctx: CacheAside(ctx, guarded=True),
    "cache-aside (naive)": lambda ctx: CacheAside(ctx, guarded=False),
    "write-through": lambda ctx: WriteThrough(ctx, guarded=True),
    "write-through (naive)": lambda ctx: WriteThrough(ctx, guarded=False),
    "write-behind": WriteBehind,
    "TTL only": TTLOnly,
}


def make(name: str, context: PatternContext) -> StatusPattern:
    """The pattern called `name` (a key of PATTERNS) on this context."""
    return PATTERNS[validation.choice(name, PATTERNS, "pattern")](context)


__all__ = ["PATTERNS", "CacheAside", "PatternContext", "StatusPattern", "TTLOnly", "Versioned", "WriteBehind",
           "WriteBehindWorker", "WriteThrough", "make"]
