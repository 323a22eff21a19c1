"""How long to wait for Redis, when to stop asking, when to try again, and what may answer stale."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput
from .last_known_good import check_policy as check_stale_policy


@dataclass(frozen=True)
class FailurePolicy:
    """How long to wait for Redis, when to stop asking, and when to try again.

    `stale_if_error_ms` (None: off) lets a read answer with the last value this process saw for its
    key, if no older than that, when Redis is unavailable and the database fails too
    (last_known_good.py says which data types may); with `stale_first`, while the circuit is open
    such a copy answers before the database is asked, sparing it.
    """

    timeout_s: float = 0.5
    connect_timeout_s: float = 0.5
    failure_threshold: int = 3
    reset_after_ms: int = 5_000
    max_pending: int = 10_000
    breaker: bool = True
    repair: bool = True
    breaker_per_node: bool = True  # on a Redis Cluster; False: one breaker for the whole cluster
    stale_if_error_ms: int | None = None  # serve a last known good copy this young when both tiers fail
    stale_entries: int = 2_000  # keys the last known good copies cover, per process (oldest out first; last_known_good.py)
    stale_first: bool = False  # while the circuit is open, a young enough copy answers before the database

    def __post_init__(self) -> None:
        for name in ("timeout_s", "connect_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 60:
                raise InvalidInput(f"{name} must be a number of seconds in (0, 60]")
        for name, low in (("failure_threshold", 1), ("reset_after_ms", 1), ("max_pending", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInput(f"{name} must be a whole number >= {low}")
        check_stale_policy(self.stale_if_error_ms, self.stale_entries)

    @property
    def timeout_ms(self) -> float:
        return self.timeout_s * 1000
