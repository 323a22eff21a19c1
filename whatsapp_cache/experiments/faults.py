"""Fault injection for lessons and tests, below every client (fakeredis and live Redis,
plain commands, pipelines and scripts alike).

    fail_on_round_trip(n)   the Nth round trip dies before it is sent, like a crash between two calls
    unreachable(mode)       every round trip fails: "refused" (a dead server) or "timeout" (a hung one)
    unreachable(after=n)    the first n round trips go through, then Redis dies mid-request (and stays
                            dead, so a client's reconnect-and-retry fails too)

Round trips are counted on every connection in the process, a new connection's handshake included.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import redis

from ..errors import InvalidInput
from .instrument import Observer, observing


@dataclass
class InjectedFailure:
    fail_on: int
    round_trips: int = 0
    fired: bool = False


@contextmanager
def fail_on_round_trip(n: int) -> Iterator[InjectedFailure]:
    """Inside the block, the `n`-th round trip (1-based) raises redis.ConnectionError unsent."""
    state = InjectedFailure(n)

    def fault(trip: int) -> Exception | None:
        return redis.ConnectionError(f"injected failure on round trip {trip}") if trip == n else None

    with observing(_Failing(state, fault)):
        yield state


@contextmanager
def unreachable(mode: str = "refused", after: int = 0) -> Iterator[InjectedFailure]:
    """Inside the block no round trip reaches Redis (after the first `after`); `mode` picks the error a
    client would see."""
    if mode not in ("refused", "timeout"):
        raise InvalidInput("mode must be 'refused' or 'timeout'")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidInput("after must be a whole number of round trips >= 0")
    error = redis.ConnectionError if mode == "refused" else redis.TimeoutError
    message = f"injected: Redis {'refused the connection' if mode == 'refused' else 'timed out'}"
    state = InjectedFailure(fail_on=after + 1)
    with observing(_Failing(state, lambda trip: error(message) if trip > after else None)):
        yield state


class _Failing(Observer):
    """Counts round trips into `state` and raises what `fault` returns for a trip's number."""

    def __init__(self, state: InjectedFailure, fault: Callable[[int], Exception | None]):
        self.state, self.fault = state, fault
        self._lock = threading.Lock()  # clients on several threads share one count

    def sending(self, connection, packed, handshake):
        with self._lock:
            self.state.round_trips += 1
            error = self.fault(self.state.round_trips)
            self.state.fired = self.state.fired or error is not None
        if error is not None:
            raise error
