"""Living with a Redis that dies: short timeouts, a circuit breaker, and repair when it returns.

Every Redis round trip of the data types and patterns goes through one CacheGuard:

    closed     calls go through; `failure_threshold` failures in a row open the circuit
    open       calls fail at once (no timeout to wait out) and the caller uses the database
    half-open  after `reset_after_ms` one call is let through as a probe; success closes the
               circuit, failure opens it again for another pause

Writes reach the database first in any case; a cached copy a write could not reach is dropped
when Redis is back (CacheGuard).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, NamedTuple

import redis
from redis.crc import key_slot
from redis.exceptions import ClusterError, SlotNotCoveredError, TryAgainError

from ..backends import queue_script
from ..clock import Clock
from ..keys import new_token
from .breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from .policy import FailurePolicy

log = logging.getLogger("whatsapp_cache")


# Errors that mean "Redis is not answering"; any other reply (even an error reply) means it is up.
# On a Redis Cluster also "nobody serves this slot right now": CLUSTERDOWN (MasterDownError is
# one), TRYAGAIN (a slot migrating), redirections that never settle (ClusterError "TTL exhausted")
# and a slot missing from the client's map. A CROSSSLOT error is none of these: it is a bug.
# redis-py 8 raises RedisClusterUnreachableError when a slot-map refresh reached no node.
_UNREACHABLE = getattr(redis.exceptions, "RedisClusterUnreachableError", ClusterError)


UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, ClusterError, TryAgainError, SlotNotCoveredError,
               _UNREACHABLE)


DROP, RAISE, UNMARK = "drop", "raise", "unmark"  # what a repair does to its key


REPLAY_BATCH = 500


# Raise write-behind's version counter to a version written while Redis was away; a counter that is
# absent or holds something foreign is set to it.
RAISE_COUNTER = """
local current = tonumber(redis.pcall('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def execute_keeping_errors(pipe) -> list:
    """A pipeline's replies with error replies in place, but an unavailable Redis raised.

    A cluster pipeline with raise_on_error=False returns a node's ConnectionError as a reply
    instead of raising it; raised, the guard counts it and the request falls back.
    """
    replies = pipe.execute(raise_on_error=False)
    error = next((reply for reply in replies if isinstance(reply, UNAVAILABLE)), None)
    if error is not None:
        raise error
    return replies


def call_key(call, args: tuple, kwargs: dict) -> str | None:
    """The first key a round trip touches (a script's first key, a command's or a pipeline's first
    hash-tagged key), to route it to its node's breaker; None when it names none."""
    keys = kwargs.get("keys")
    if keys:
        return str(keys[0])
    for value in (*args, getattr(call, "__self__", None)):
        if isinstance(value, str) and "{" in value:
            return value
        for command in _queued_commands(value):
            words = command.args if hasattr(command, "args") else command[0]
            key = next((w for w in words[1:] if isinstance(w, str) and "{" in w), None)
            if key is not None:
                return key
    return None


def _queued_commands(value) -> list:
    """A pipeline's queued commands: a Pipeline's command_stack, a ClusterPipeline's strategy queue."""
    strategy = getattr(value, "_execution_strategy", None)
    queued = getattr(strategy, "command_queue", None) if strategy is not None else None
    return list(queued or getattr(value, "command_stack", None) or ())


class Repair(NamedTuple):
    """What to do to one key once Redis answers again: drop it (and set a new generation), raise a
    version counter to `value`, or take the member `value` (a set's completeness marker) out."""

    kind: str
    generation: str | None = None
    ttl_ms: int = 0
    value: object = None


class CacheUnavailable(Exception):
    """Redis did not answer (or the circuit is open); the caller serves from the database."""


@dataclass
class GuardStats:
    """What the guard did: calls refused while open, calls that failed, keys repaired."""

    refused: int = 0
    failed: int = 0
    timeouts: int = 0
    remembered: int = 0
    repaired: int = 0
    namespace_flushes: int = 0


class CacheGuard:
    """The one door to Redis for requests: breaker, failure accounting and repair of missed writes.

    When a write cannot update or drop its cached copy, the guard remembers the key and drops it
    before the next call that reaches Redis, so a Redis that comes back with its old data (a network
    cut, a paused process, a restart from disk) does not serve what was overwritten meanwhile. If
    more keys pile up than it will remember, it empties the namespace instead. What one app server
    remembers, only it repairs: another server that wrote during the outage repairs its own keys,
    and TTLs bound the rest.

    On a Redis Cluster each master has a breaker of its own (`breaker_per_node`), found from the
    slot of the call's key: one dead master opens its breaker only, and the other masters' slots are
    still read from Redis. With one breaker per process, three failures on the dead master's slots
    opened it for every slot, and the whole cluster's reads went to the database until the probe.
    Keys that missed writes are repaired node by node: before a call reaches a master, the keys it
    serves.
    """

    def __init__(self, client: redis.Redis, clock: Clock, policy: FailurePolicy = FailurePolicy(),
                 flush: Callable[[], int] | None = None):
        self.client = client
        self.policy = policy
        self.breaker = CircuitBreaker(clock, policy.failure_threshold, policy.reset_after_ms)
        self.breakers: dict[str, CircuitBreaker] = {}  # per cluster node, when breaker_per_node
        self._per_node = policy.breaker_per_node and isinstance(client, redis.RedisCluster)
        self._clock = clock
        self.stats = GuardStats()
        self._flush = flush
        self._pending: dict[str, Repair] = {}
        self._flush_pending = False
        self._lock = threading.Lock()
        self._raise_counter = client.register_script(RAISE_COUNTER)

    def __repr__(self) -> str:
        return f"<CacheGuard circuit={self.state} pending={self.pending}>"

    @property
    def state(self) -> str:
        """The worst of the breakers' states: open if any is, else half-open if any is, else closed."""
        states = {b.state for b in self.all_breakers()}
        return OPEN if OPEN in states else HALF_OPEN if HALF_OPEN in states else CLOSED

    @property
    def pending(self) -> int:
        """Keys waiting to be dropped once Redis answers again."""
        return len(self._pending)

    def run(self, trace, call, args: tuple, kwargs: dict):
        """One round trip for `trace`, or CacheUnavailable at once if the circuit is open."""
        breaker = self._breaker_for(call_key(call, args, kwargs)) if self._per_node else self.breaker
        permit = breaker.permit() if self.policy.breaker else CLOSED
        if permit == OPEN:
            self.stats.refused += 1
            trace.cache_failures += 1
            raise CacheUnavailable("circuit open: Redis is being given a rest")
        try:
            if self._pending or self._flush_pending:
                self._repair(trace, breaker)
            result = trace.round_trip(call, args, kwargs)
        except UNAVAILABLE as exc:
            self._failed(trace, exc, breaker)
            raise CacheUnavailable(f"Redis unavailable ({type(exc).__name__})") from None
        except BaseException:
            self._answered(breaker)  # Redis answered (with an error reply): it is up
            raise
        if breaker.state != CLOSED or breaker.failures:
            self._answered(breaker)
        return result

    def all_breakers(self) -> list[CircuitBreaker]:
        """The process-wide breaker, then one per cluster node met so far."""
        return [self.breaker, *self.breakers.values()]

    def transitions(self) -> list[tuple[int, str]]:
        """Every breaker's changes, in time order."""
        return sorted((change for b in self.all_breakers() for change in b.transitions), key=lambda c: c[0])

    def is_open_for(self, key: str) -> bool:
        """Whether a call on `key` would be refused now: its breaker open and its pause not over (once
        it is, the call may be the probe)."""
        if not self.policy.breaker:
            return False
        breaker = self._breaker_for(key) if self._per_node else self.breaker
        return breaker.state == OPEN and self._clock.now_ms() - breaker.opened_ms < breaker.reset_after_ms

    def any_open(self) -> bool:
        return any(b.state != CLOSED for b in self.all_breakers())

    def _breaker_for(self, key: str | None) -> CircuitBreaker:
        """The breaker of the node serving `key`'s slot (the process-wide one for a call without a key)."""
        node = self._node_of(key)
        if node is None:
            return self.breaker
        breaker = self.breakers.get(node)
        if breaker is None:
            breaker = self.breakers.setdefault(node, CircuitBreaker(
                self._clock, self.policy.failure_threshold, self.policy.reset_after_ms, name=node))
        return breaker

    def _node_of(self, key: str | None) -> str | None:
        """The name of the master serving `key`'s slot, from the client's slot map ("slot N" if none does)."""
        if key is None:
            return None
        slot = key_slot(key.encode())
        try:
            return self.client.nodes_manager.get_node_from_slot(slot).name
        except (SlotNotCoveredError, ClusterError, IndexError, KeyError):
            return f"slot {slot}"

    def remember(self, data_key: str, generation_key: str | None = None, ttl_ms: int = 0,
                 counter: tuple[str, int] | None = None, siblings: tuple[str, ...] = ()) -> None:
        """A write could not reach this key: drop it (its `siblings`, other copies of the same row, too)
        and set a new generation when Redis is back; `counter`: a version counter to raise to a floor."""
        repairs = {data_key: Repair(DROP, generation_key, ttl_ms)}
        repairs.update({sibling: Repair(DROP) for sibling in siblings})
        if counter is not None:
            repairs[counter[0]] = Repair(RAISE, value=counter[1])
        self._add(repairs, keep=siblings)

    def unmark(self, key: str, member: str) -> None:
        """A write could not reach this set: take its completeness marker out when Redis is back (the
        next read refills it from the database), keeping what it holds."""
        self._add({key: Repair(UNMARK, value=member)})

    def _add(self, repairs: dict, keep: tuple[str, ...] = ()) -> None:
        if not self.policy.repair:
            return
        with self._lock:
            self.stats.remembered += 1
            first = next(iter(repairs))
            if len(self._pending) >= self.policy.max_pending and first not in self._pending:
                self._flush_pending = True
                return
            for key, repair in repairs.items():
                if key in keep and key in self._pending:
                    continue  # a sibling already waiting keeps its own repair
                self._pending[key] = repair

    def flush_when_back(self) -> None:
        """Empty the namespace before the next call that reaches Redis."""
        with self._lock:
            self._flush_pending = True

    def _failed(self, trace, exc: Exception, breaker: CircuitBreaker) -> None:
        self.stats.failed += 1
        trace.cache_failures += 1
        if isinstance(exc, redis.TimeoutError):
            self.stats.timeouts += 1
            trace.simulated_ms += self.policy.timeout_ms  # a hung Redis costs the whole timeout
        if self.policy.breaker:  # without one, nothing opens (nor logs that requests skip Redis)
            breaker.failure()

    def _answered(self, breaker: CircuitBreaker) -> None:
        if self.policy.breaker:
            breaker.success()

    def _take_pending(self, breaker: CircuitBreaker) -> dict:
        """The remembered keys to repair before a call: all of them, or on a cluster those `breaker`'s node serves."""
        with self._lock:
            if not self._per_node or breaker is self.breaker:  # a call whose node is unknown repairs all
                pending, self._pending = self._pending, {}
                return pending
            pending = {key: r for key, r in self._pending.items() if self._breaker_for(key) is breaker}
            for key in pending:
                del self._pending[key]
            return pending

    def _repair(self, trace, breaker: CircuitBreaker | None = None) -> None:
        """Drop the remembered keys (or the whole namespace after an overflow), in batches."""
        pending = self._take_pending(breaker or self.breaker)
        with self._lock:
            overflowed, self._flush_pending = self._flush_pending, False
        try:
            if overflowed and self._flush is not None:
                trace.round_trips += 1
                self._flush()
                self.stats.namespace_flushes += 1
                log.warning("cache repaired by emptying the namespace (more than %d keys missed writes)",
                            self.policy.max_pending)
            items = list(pending.items())
            for start in range(0, len(items), REPLAY_BATCH):
                trace.round_trip(self._replay_batch, (items[start:start + REPLAY_BATCH],), {})
        except BaseException:
            with self._lock:  # try again next time; keys remembered meanwhile stay too
                self._pending = {**pending, **self._pending}
                self._flush_pending = self._flush_pending or overflowed
            raise
        self.stats.repaired += len(pending)
        if pending:
            log.warning("cache repaired: dropped %d entries that missed writes while Redis was away", len(pending))

    def _replay_batch(self, items) -> None:
        pipe = self.client.pipeline(transaction=False)  # on a cluster: split by node, one write each
        for key, repair in items:
            if repair.kind == RAISE:
                queue_script(self._raise_counter, pipe, [key], [repair.value])
            elif repair.kind == UNMARK:
                pipe.zrem(key, repair.value)
            else:
                pipe.delete(key)
                if repair.generation is not None:
                    pipe.set(repair.generation, new_token(), px=max(repair.ttl_ms, 1))
        pipe.execute()
