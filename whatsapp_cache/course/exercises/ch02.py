"""Chapter 02's exercises: a cache-aside read that cannot cache a stale value, and the update that goes with it.

Both run patterns/contract.py's cases, the ones the library's CacheAside passes: the read against
the library's update, the update against the library's read, on the course's Redis and database.
"""

from __future__ import annotations

from ...patterns.contract import read_cases, reference_read, reference_update, update_cases
from . import Case, exercise


def _cases(contract) -> list[Case]:
    return [Case(describe, lambda candidate, bench, run=run: run(candidate, bench.world), hint)
            for describe, run, hint in contract]


@exercise("cache_aside_read", "02", "a cache-aside read that never caches a stale value",
          hint="GET keys.data; on a miss claim the generation (SET NX a new token, then GET it), load(), "
               "and fill with a script that compares the generation and SETs with PX ttl_ms.")
def _read_cases() -> list[Case]:
    return _cases(read_cases(reference_update))


@exercise("update_status", "02", "update the database, then invalidate so no fill in flight survives",
          hint="save(text) first; then, in one MULTI or script, DEL keys.data and SET keys.generation "
               "to new_token() with PX ttl_ms.")
def _update_cases() -> list[Case]:
    return _cases(update_cases(reference_read))
