"""What a redis-py client's own Retry does against a Redis that never answers."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.backoff
import redis.retry


@dataclass(frozen=True)
class RetryPolicy:
    """What a client does when a call fails with a connection error: how often it retries, and its waits."""

    retries: int
    backoff: str                 # the backoff's class name
    worst_waits_s: tuple[float, ...]  # the sleep before each retry, jitter at its maximum

    @property
    def worst_total_s(self) -> float:
        return sum(self.worst_waits_s)

    def describe(self) -> str:
        return (f"retries: {self.retries:>2}, backoff: {self.backoff}, "
                f"worst-case waits {self.worst_total_s:.2f} s in all")


def retry_policy(client) -> RetryPolicy:
    """Ask `client`'s own Retry what it does against a Redis that never answers.

    Runs Retry.call_with_retry on a call that always raises ConnectionError, records each sleep
    instead of sleeping, and draws every jitter at its maximum (redis-py's backoffs scale a
    uniform draw; the worst case is a draw of 1). No connection is made. It swaps two module
    attributes of redis-py while it runs: call it from a notebook or a test, not under load.
    """
    retry = client.get_retry()
    if retry is None:
        return RetryPolicy(0, "none", ())
    waits: list[float] = []
    real_sleep, real_random = redis.retry.sleep, redis.backoff.random
    redis.retry.sleep = waits.append
    redis.backoff.random = _Highest()
    try:
        retry.call_with_retry(_refuse, lambda error: None)
    except redis.ConnectionError:
        pass
    finally:
        redis.retry.sleep, redis.backoff.random = real_sleep, real_random
    return RetryPolicy(retry.get_retries(), type(retry._backoff).__name__, tuple(waits))


def _refuse():
    raise redis.ConnectionError("a Redis that never answers")


class _Highest:
    """Stands in for the random module inside redis.backoff: every draw at the top of its range."""

    @staticmethod
    def random() -> float:
        return 1.0

    @staticmethod
    def uniform(low: float, high: float) -> float:
        return max(low, high)
