"""Living with a Redis that dies: short timeouts, a circuit breaker, repair when it returns, stale if both fail.

    policy.py           FailurePolicy: the timeouts, the breaker's settings, stale-if-error's limits
    breaker.py          CircuitBreaker (closed, open, half-open) and the contract every breaker passes
    guard.py            CacheGuard: every Redis round trip of the data types goes through it
    last_known_good.py  the last value each key had, served when Redis and the database both fail
"""

from .breaker import BREAKER_CONTRACT, CLOSED, HALF_OPEN, OPEN, BreakerScenario, CircuitBreaker, replay_breaker
from .guard import (UNAVAILABLE, CacheGuard, CacheUnavailable, GuardStats, Repair, call_key,
                    execute_keeping_errors, log)
from .policy import FailurePolicy

__all__ = ["BREAKER_CONTRACT", "CLOSED", "HALF_OPEN", "OPEN", "UNAVAILABLE", "BreakerScenario", "CacheGuard",
           "CacheUnavailable", "CircuitBreaker", "FailurePolicy", "GuardStats", "Repair", "call_key",
           "execute_keeping_errors", "log", "replay_breaker"]
