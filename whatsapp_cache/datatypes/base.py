"""What every cached data type shares: a one-command read, a guarded fill, invalidate."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import redis

from ..backends import HitReader
from ..clock import Clock
from ..codec import CorruptEntry, Meta, decode_meta, encode_meta
from ..db import Repository
from ..keys import EntryKeys, KeySchema
from ..resilience.last_known_good import LastKnownGood
from ..latency import DatabaseUnavailable
from ..metrics import Metrics, Trace
from ..resilience import CacheUnavailable
from ..ttl import TTLs
from . import generation as generations
from .scripts import Scripts

log = logging.getLogger("whatsapp_cache")
EMPTY_REPLIES = {"hgetall": dict, "lrange": list, "smembers": set}
READ_COMMANDS = {name: name.upper() for name in EMPTY_REPLIES}  # as sent: looked up, not upper() per read
R = TypeVar("R")
_new_object = object.__new__


def decoded_record(cls: type[R], fields: dict) -> R:
    """`cls(**fields)` for a frozen dataclass without __post_init__ or __slots__ (a hit's Profile or
    Session), from `fields` already decoded and type-checked, every field in declaration order.

    The generated __init__ sets each field through object.__setattr__, the price of frozen;
    filling the new instance's __dict__ makes the same object (equal, same hash, repr and vars)
    in a fraction of the time, and a hit builds one on every read.
    """
    record = _new_object(cls)
    vars(record).update(fields)
    return record


@dataclass
class Context:
    """The parts a data type needs; a World builds one and hands it to each type."""

    redis: redis.Redis
    repo: Repository
    keys: KeySchema
    clock: Clock
    metrics: Metrics
    scripts: Scripts
    ttls: TTLs
    token_factory: Callable[[], str]
    rng: random.Random = field(default_factory=random.Random)
    reader: HitReader | None = None
    last_good: LastKnownGood | None = None  # stale-if-error's copies, if the failure policy turns it on

    def __post_init__(self) -> None:
        # a context copied with another client (dataclasses.replace) must not read through the old one
        if self.reader is None or self.reader.client is not self.redis:
            self.reader = HitReader(self.redis)


class CachedType:
    """Base of the five data types; `data_type` names it in metrics and TTLs.

    `serve_stale`: whether a read may answer from a last known good copy when Redis and the
    database both fail (resilience/last_known_good.py argues which types may).
    """

    data_type = ""
    serve_stale = False

    def __init__(self, context: Context):
        self.ctx = context

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ttl={getattr(self.ctx.ttls, self.data_type)}s>"

    @property
    def ttl_ms(self) -> int:
        return self.ctx.ttls.ms(self.data_type)

    def now(self) -> int:
        return self.ctx.clock.now_ms()

    def _request(self, operation: str):
        return self.ctx.metrics.request(self.data_type, operation)

    def _answer(self, trace: Trace, keys: EntryKeys, read: Callable[..., Any], *args: Any) -> Any:
        """`read(*args)`'s answer, kept as the key's last known good copy; if the database fails while
        Redis is unavailable, a copy young enough instead (outcome "stale"), else the error. (Arguments,
        not a closure: a read would make one each time.)

        With the store's `first`, a copy young enough answers before anything is asked while the
        circuit of the key's Redis is open: the database is spared those reads.
        """
        store = self.ctx.last_good
        if store is None or not self.serve_stale:
            return read(*args)
        if store.first and trace.guard is not None and trace.guard.is_open_for(keys.data):
            copy = store.serve(keys.data, count_missing=False)
            if copy is not None:
                return self._stale(trace, copy)
        try:
            value = read(*args)
        except DatabaseUnavailable:
            copy = store.serve(keys.data) if trace.outcome == "fallback" else None
            if copy is None:
                raise
            return self._stale(trace, copy)
        store.keep(keys.data, value)
        return value

    @staticmethod
    def _stale(trace: Trace, copy: tuple[Any, int]) -> Any:
        trace.outcome = "stale"
        return copy[0]

    def _forget(self, keys: EntryKeys) -> None:
        """A write changed this entry: its last known good copy must not be served."""
        if self.ctx.last_good is not None:
            self.ctx.last_good.forget(keys.data)

    def _read(self, trace: Trace, keys: EntryKeys, command: str, *args: Any) -> Any:
        """One command, one round trip: the entry as `command` returns it.

        A hit needs nothing else, so it costs exactly what a bare redis-py call costs on the
        wire. A key of another type (not written by this library) reads as an empty, corrupt
        entry, so the miss path's fill replaces it instead of every read failing until it
        expires. With Redis unavailable the entry reads as empty and the request falls back.
        """
        try:
            return trace.cache(self.ctx.reader.read, READ_COMMANDS[command], keys.data, *args)
        except CacheUnavailable:
            trace.outcome = "fallback"
        except redis.ResponseError as exc:
            self._corrupt(keys, str(exc))
        return EMPTY_REPLIES[command]()

    def _miss(self, trace: Trace, keys: EntryKeys) -> str | None:
        """Count a miss and claim the entry's generation token, before the database is asked.

        The fill succeeds only if the generation still holds this token, so a value read
        from the database before a concurrent write is never cached after it (generation.py).
        None (Redis unavailable, or a foreign value in the generation key) means: serve from
        the database and do not fill.
        """
        trace.miss()
        if trace.outcome == "fallback":
            return None
        return self._generation(trace, keys)

    def _generation(self, trace: Trace, keys: EntryKeys) -> str | None:
        """Claim the entry's generation token (generation.py); None if Redis is unavailable or the key
        holds a foreign value (logged and dropped).

        Claimed before the database is asked or written, it lets the script that follows tell
        whether another write came in between.
        """
        try:
            token = trace.cache(generations.claim, self.ctx.redis, keys.generation, self.ttl_ms)
        except CacheUnavailable:
            return None
        if token is None:
            self._corrupt(keys, "generation key holds a foreign value")
            self._drop_foreign_generation(trace, keys)
        return token

    def _drop_foreign_generation(self, trace: Trace, keys: EntryKeys) -> None:
        try:
            trace.cache(self.ctx.redis.delete, keys.generation)
        except CacheUnavailable:
            pass  # the next miss tries again

    def _fresh_meta(self, keys: EntryKeys, raw_marker: str | None, present: bool = False) -> Meta | None:
        """The marker if the entry is complete, current and unexpired; None is a miss.

        `present` says the entry exists: the library never writes one without its marker.
        """
        if raw_marker is None:
            if present:
                self._corrupt(keys, "marker missing")
            return None
        try:
            meta = decode_meta(raw_marker)
        except CorruptEntry as exc:
            self._corrupt(keys, str(exc))
            return None
        return meta if meta.fresh(self.ctx.clock.now_ms()) else None  # self.now(), one call fewer per hit

    def _fill(self, trace: Trace, keys: EntryKeys, generation: str | None, kind: str, items: list[str],
              missing: bool = False, ttl_ms: int | None = None, version: int | None = None) -> bool:
        """Write a complete entry with its marker and TTL atomically, unless a write came first.

        No generation (Redis was unavailable when the request claimed it) or no Redis now: no fill.
        `version` is the row's version, for entries a write-behind write may still be ahead of.
        """
        if generation is None:
            return False
        script_keys, args = self._fill_call(keys, generation, kind, items, missing, ttl_ms, version)
        try:
            filled = trace.cache(self.ctx.scripts.fill, keys=script_keys, args=args)
        except CacheUnavailable:
            return False
        if filled == -1:
            self._corrupt(keys, "generation key held a foreign value; dropped")
        return filled == 1

    def _fill_call(self, keys: EntryKeys, generation: str, kind: str, items: list[str], missing: bool = False,
                   ttl_ms: int | None = None, version: int | None = None) -> tuple[list[str], list]:
        """The FILL script's keys and arguments (see scripts.FILL)."""
        ttl_ms = ttl_ms or self.ctx.ttls.jittered_ms("negative" if missing else self.data_type, self.ctx.rng)
        marker = encode_meta(self.now() + ttl_ms, missing)
        script_keys = [keys.data, keys.generation]
        if version is not None and keys.version_counter is not None:
            script_keys.append(keys.version_counter)
        return script_keys, [generation, ttl_ms, kind, marker, "" if version is None else version, *items]

    def _invalidate(self, trace: Trace, keys: EntryKeys) -> bool:
        """Drop the cached entry (and its siblings) after a write; if Redis is unavailable, once it is back."""
        self._forget(keys)
        try:
            trace.cache(self.ctx.scripts.invalidate, keys=[keys.data, keys.generation, *keys.siblings],
                        args=[self.ttl_ms, generations.new_token()])
            return True
        except CacheUnavailable:
            self._remember(trace, keys)
            return False

    def _remember(self, trace: Trace, keys: EntryKeys) -> None:
        self._forget(keys)
        if trace.guard is not None:
            trace.guard.remember(keys.data, keys.generation, self.ttl_ms, siblings=keys.siblings)

    def _corrupt(self, keys: EntryKeys, reason: str) -> None:
        log.warning("corrupt cache entry %s (%s); treated as a miss", keys.data, reason)
