"""Chapter 03's exercises: delete or update once the database has committed, and jittered TTLs.

Both run invalidation/contract.py's cases, the ones the library passes: the write step of
CacheAside (delete) and of WriteThrough (SET only if newer), and `ttl.jittered_ttl`.
"""

from __future__ import annotations

from ...invalidation.contract import AFTER_COMMIT_CASES, JITTER_CASES
from . import Case, exercise


def _cases(contract) -> list[Case]:
    return [Case(describe, lambda candidate, bench, run=run: run(candidate, bench.world), hint)
            for describe, run, hint in contract]


@exercise("after_commit", "03", "keep the cache honest once the database has committed",
          hint="the simplest answer that survives concurrent writers is DEL keys.data; an update must "
               "compare versions and SET in one Lua script.")
def _after_commit_cases() -> list[Case]:
    return _cases(AFTER_COMMIT_CASES)


@exercise("jittered_ttl", "03", "a TTL with jitter: whole seconds, within a band, from a seeded rng",
          hint="base_s + rng.randint(0, spread_s)")
def _jitter_cases() -> list[Case]:
    return _cases(JITTER_CASES)
