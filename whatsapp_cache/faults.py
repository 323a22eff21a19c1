"""Fault injection for lessons and tests: the Nth Redis round trip dies before it is sent.

It works below every client (fakeredis and live Redis, plain commands, pipelines and
scripts alike), like a process that crashes between two calls.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import redis
from redis.connection import AbstractConnection

from .inspection import _patch_lock


@dataclass
class InjectedFailure:
    fail_on: int
    round_trips: int = 0
    fired: bool = False


@contextmanager
def fail_on_round_trip(n: int) -> Iterator[InjectedFailure]:
    """Inside the block, the `n`-th round trip (1-based) raises redis.ConnectionError unsent."""
    state = InjectedFailure(n)
    with _patch_lock:
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
