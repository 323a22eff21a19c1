"""The one hook on redis-py's connections: observers stack, and the class is left as it was."""

from __future__ import annotations

import pytest
import redis
from redis.connection import AbstractConnection

from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.experiments.inspection import watch_commands
from whatsapp_cache.experiments.wire import count_round_trips

KEY = "wc:instrument-test"
HOOKED = ("send_command", "pack_commands", "send_packed_command", "connect_check_health")


def test_observers_stack_and_the_class_is_restored(world):
    world.redis.ping()
    before = {name: vars(AbstractConnection)[name] for name in HOOKED}
    with count_round_trips(world.redis) as wire_count, watch_commands(world) as log:
        world.redis.get(KEY)
    assert (wire_count.trips, log.commands, log.round_trips) == ([("GET",)], [("GET", KEY)], 1)
    assert {name: vars(AbstractConnection)[name] for name in HOOKED} == before


def test_a_fault_under_a_watch_fails_the_writes_the_watch_saw_packed(world):
    """The newest observer hears a write first: the fault raises before the older watch counts it.

    (A live client retries once, so the GET may be packed twice.)
    """
    world.redis.ping()
    with watch_commands(world) as log, unreachable() as outage, pytest.raises(redis.ConnectionError):
        world.redis.get(KEY)
    assert outage.fired and set(log.commands) == {("GET", KEY)} and log.round_trips == 0
