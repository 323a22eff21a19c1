"""Fault injection for lessons and tests, below every client (fakeredis and live Redis,
plain commands, pipelines and scripts alike).

    fail_on_round_trip(n)   the Nth round trip dies before it is sent, like a crash between two calls
    unreachable(mode)       every round trip fails: "refused" (a dead server) or "timeout" (a hung one)
    unreachable(after=n)    the first n round trips go through, then Redis dies mid-request (and stays
                            dead, so a client's reconnect-and-retry fails too)
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import redis
from redis.connection import AbstractConnection

from ..errors import InvalidInput
from .inspection import PATCH_LOCK


@dataclass
class InjectedFailure:
    fail_on: int
    round_trips: int = 0
    fired: bool = False


@contextmanager
def fail_on_round_trip(n: int) -> Iterator[InjectedFailure]:
    """Inside the block, the `n`-th round trip (1-based) raises redis.ConnectionError unsent."""
    state = InjectedFailure(n)
    with PATCH_LOCK:
        send = AbstractConnection.send_packed_command

        def send_packed_command(self, command, check_health=True):
            state.round_trips += 1
            if state.round_trips == state.fail_on:
                state.fired = True
                raise redis.ConnectionError(f"injected failure on round trip {state.round_trips}")
            return send(self, command, check_health)

        AbstractConnection.send_packed_command = send_packed_command
        try:
            yield state
        finally:
            AbstractConnection.send_packed_command = send


@contextmanager
def unreachable(mode: str = "refused", after: int = 0) -> Iterator[InjectedFailure]:
    """Inside the block no round trip reaches Redis (after the first `after`); `mode` picks the error a
    client would see."""
    if mode not in ("refused", "timeout"):
        raise InvalidInput("mode must be 'refused' or 'timeout'")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidInput("after must be a whole number of round trips >= 0")
    error = redis.ConnectionError if mode == "refused" else redis.TimeoutError
    state = InjectedFailure(fail_on=after + 1)
    with PATCH_LOCK:
        send = AbstractConnection.send_packed_command

        def send_packed_command(self, command, check_health=True):
            state.round_trips += 1
            if state.round_trips <= after:
                return send(self, command, check_health)
            state.fired = True
            raise error(f"injected: Redis {'refused the connection' if mode == 'refused' else 'timed out'}")

        AbstractConnection.send_packed_command = send_packed_command
        try:
            yield state
        finally:
            AbstractConnection.send_packed_command = send
