"""Chapter 05's exercises: a recompute lock (a token to take it, compare-and-delete to release it), XFetch's decision.

All three run stampede/contract.py's cases, the ones the library's acquire_lock, release_lock and
xfetch_decision pass in tests/test_stampede.py, on the course's Redis.
"""

from __future__ import annotations

from ...stampede.contract import ACQUIRE_CASES, DECISION_CASES, RELEASE_CASES
from . import Case, exercise


def _cases(contract) -> list[Case]:
    return [Case(describe, lambda candidate, bench, run=run: run(candidate, bench.world), hint)
            for describe, run, hint in contract]


@exercise("acquire_lock", "05", "take a recompute lock: one holder, a token, an expiry",
          hint="token = secrets.token_hex(16); redis.set(key, token, nx=True, px=lock_ms) and return the token "
               "if that succeeded, else None.")
def _acquire_cases() -> list[Case]:
    return _cases(ACQUIRE_CASES)


@exercise("release_lock", "05", "release a lock only if it is still yours",
          hint="a Lua script that GETs the key and DELs it only if it holds your token, run with redis.eval.")
def _release_cases() -> list[Case]:
    return _cases(RELEASE_CASES)


@exercise("xfetch_decision", "05", "XFetch's decision: recompute early with a probability",
          hint="return -delta_ms * beta * math.log(u) >= ttl_left_ms")
def _decision_cases() -> list[Case]:
    return _cases(DECISION_CASES)
