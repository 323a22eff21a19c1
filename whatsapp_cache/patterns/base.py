"""What the caching patterns share: the cached record, the context, and timed steps.

The patterns cache one simple piece of profile data, a user's status message with its
version, so the same workload can run under each pattern and be compared.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import redis

from ..clock import SimulatedClock
from ..codec import CorruptEntry, PAYLOAD_VERSION
from .concurrency import Steps, run_steps
from ..datatypes.base import log
from ..datatypes.generation import claimed, queue_claim
from ..datatypes.scripts import Scripts
from ..db import Repository
from ..keys import KeySchema
from ..metrics import Metrics, Trace
from ..resilience import CacheUnavailable, execute_keeping_errors
from .staleness import VersionLog
from .. import validation
from ..errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Versioned:
    """A status message and the version it had when read or written."""

    value: str
    version: int


def encode_record(version: int, expires_ms: int, value: str) -> str:
    # "version" first: the Lua scripts compare versions with a pattern match.
    return (f'{{"version":{int(version)},"exp":{int(expires_ms)},"v":{PAYLOAD_VERSION},'
            f'"value":{json.dumps(value, ensure_ascii=False)}}}')


def decode_record(raw: str) -> tuple[Versioned, int]:
    """The record and its logical expiry; CorruptEntry if it is not one of ours."""
    try:
        data = json.loads(raw)
        record = Versioned(data["value"], int(data["version"]))
        expires = int(data["exp"])
        version_ok = data.get("v") == PAYLOAD_VERSION and isinstance(record.value, str)
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise CorruptEntry(f"bad status record: {type(exc).__name__}") from None
    if not version_ok:
        raise CorruptEntry("status record of another payload version")
    return record, expires


@dataclass
class PatternContext:
    """The parts a pattern needs; `truth` records when each version became the truth."""

    redis: redis.Redis
    scripts: Scripts
    repo: Repository
    keys: KeySchema
    clock: SimulatedClock
    metrics: Metrics
    ttl_ms: int = 3_600_000
    jitter: float = 0.0
    seed: int = 0
    truth: VersionLog = field(default_factory=VersionLog)
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.jitter <= 1:
            raise InvalidInput("jitter must be a fraction from 0 to 1")
        self.rng = random.Random(self.seed)

    @classmethod
    def from_world(cls, world, ttl_s: int | None = None, jitter: float = 0.0) -> "PatternContext":
        ttl_ms = (ttl_s if ttl_s is not None else world.ttls.profiles) * 1000
        return cls(world.redis, world.scripts, world.repo, world.keys, world.clock, world.metrics, ttl_ms, jitter, world.seed)

    def ttl_with_jitter(self) -> int:
        """The TTL stretched by up to `jitter` of itself, so entries filled together expire apart."""
        return int(self.ttl_ms * (1 + self.jitter * self.rng.random()))


class StatusPattern:
    """Base of the patterns: read() and write() are step generators (see concurrency.py).

    Every pattern reads the same way (the cache, else the database and a fill); they differ
    in how they write. `guarded_fill = False` is the seed's fill, which the stale-set race beats.
    """

    name = ""
    summary = ""
    guarded_fill = True

    def __init__(self, context: PatternContext):
        self.ctx = context

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ttl={self.ctx.ttl_ms // 1000}s jitter={self.ctx.jitter}>"

    def read(self, user_id: str) -> Steps:
        """The user's status: the cached record, else the database's and a fill."""
        user_id = validation.entity_id(user_id, "user id")
        keys = self.ctx.keys.status(user_id)
        with self.ctx.metrics.request("profiles", "status_read") as trace:
            cached, generation = yield from self._cached(trace, user_id)
            if cached is not None:
                return self._observed(user_id, cached)
            trace.miss()
            fresh = yield from self._load(trace, user_id)
            ttl = self.ctx.ttl_with_jitter()
            if generation is None:  # Redis was unavailable: serve the database's answer, fill nothing
                return self._observed(user_id, fresh)
            try:
                if self.guarded_fill:
                    yield from self._cache(trace, self.ctx.scripts.guarded_set,
                                           keys=[keys.data, keys.generation, keys.version_counter],
                                           args=[generation, ttl, self._record(fresh, ttl), fresh.version])
                else:
                    yield from self._cache(trace, self.ctx.redis.set, keys.data, self._record(fresh, ttl), px=ttl)
            except CacheUnavailable:
                pass  # Redis went away between the read and the fill: the answer stands, unfilled
            return self._observed(user_id, fresh)

    def write(self, user_id: str, text: str) -> Steps:
        """UPDATE the database first, then the pattern's own cache step; return the new version."""
        user_id, text = self._checked(user_id, text)
        with self.ctx.metrics.request("profiles", "status_write") as trace:
            trace.outcome = "write"
            version = yield from self._write_database(trace, user_id, text)
            try:
                yield from self.after_write(trace, user_id, text, version)
            except CacheUnavailable:  # the database has it; drop the cached copy once Redis is back
                self._remember(trace, user_id)
            return version

    def after_write(self, trace: Trace, user_id: str, text: str, version: int) -> Steps:
        """What a pattern does to the cache once the database has the new version (default: nothing).

        Public because the invalidation contract (invalidation/contract.py) drives it alone.
        """
        return
        yield

    def _remember(self, trace: Trace, user_id: str) -> None:
        if trace.guard is not None:
            keys = self.ctx.keys.status(user_id)
            trace.guard.remember(keys.data, keys.generation, self.ctx.ttl_ms, siblings=keys.siblings)

    def get(self, user_id: str) -> Versioned:
        """read() run to its end on the clock (no other operation interleaved)."""
        return run_steps(self.read(user_id), self._simulated_clock())

    def set(self, user_id: str, text: str) -> int:
        """write() run to its end on the clock."""
        return run_steps(self.write(user_id, text), self._simulated_clock())

    def _simulated_clock(self):
        """The clock to move by each step's latency; a real clock moves by itself."""
        return self.ctx.clock if hasattr(self.ctx.clock, "advance") else None

    # timed calls: do the call now, then let the time it took pass
    def _cache(self, trace: Trace, call, *args, **kwargs) -> Steps:
        before = trace.simulated_ms
        try:
            result = trace.cache(call, *args, **kwargs)
        except CacheUnavailable:
            yield trace.simulated_ms - before  # a failed call takes its time too (a timeout, most of all)
            raise
        yield trace.simulated_ms - before
        return result

    def _db(self, trace: Trace, call, *args) -> Steps:
        before = trace.simulated_ms
        result = trace.db(call, *args)
        yield trace.simulated_ms - before
        return result

    def _now(self) -> int:
        return self.ctx.clock.now_ms()

    def _cached(self, trace: Trace, user_id: str) -> Steps:
        """One round trip: the cached record (None if absent, expired or corrupt) and the generation
        token claimed for a fill (None: a foreign value there, so no fill; see generation.py)."""
        keys = self.ctx.keys.status(user_id)
        pipe = self.ctx.redis.pipeline(transaction=False)
        pipe.get(keys.data)
        queue_claim(pipe, keys.generation, self.ctx.ttl_ms)
        try:
            raw, *claim = yield from self._cache(trace, execute_keeping_errors, pipe)
        except CacheUnavailable:
            trace.outcome = "fallback"
            return None, None
        generation = claimed(*claim)
        if generation is None:
            log.warning("corrupt cache entry %s (generation key holds a foreign value); no fill", keys.generation)
        if raw is None:
            return None, generation
        try:
            if isinstance(raw, Exception):
                raise CorruptEntry(str(raw))
            record, expires = decode_record(raw)
        except CorruptEntry as exc:
            log.warning("corrupt cache entry %s (%s); treated as a miss", keys.data, exc)
            return None, generation
        return (record if expires > self._now() else None), generation

    def _write_database(self, trace: Trace, user_id: str, text: str) -> Steps:
        """UPDATE the row (the new version is the truth from this moment); return the version."""
        version = yield from self._db(trace, self.ctx.repo.write_status, user_id, text, self._now())
        if version is None:
            raise NotFound(f"no user with id {user_id!r}")
        self.ctx.truth.committed(user_id, version, self._now())
        return version

    def _load(self, trace: Trace, user_id: str) -> Steps:
        """The database's current record."""
        row = yield from self._db(trace, self.ctx.repo.status, user_id)
        if row is None:
            raise NotFound(f"no user with id {user_id!r}")
        return Versioned(*row)

    def _record(self, record: Versioned, ttl_ms: int) -> str:
        return encode_record(record.version, self._now() + ttl_ms, record.value)

    def _observed(self, user_id: str, record: Versioned) -> Versioned:
        self.ctx.truth.read(user_id, record.version, self._now())
        return record

    def _checked(self, user_id: str, text: str) -> tuple[str, str]:
        user_id = validation.entity_id(user_id, "user id")
        return user_id, validation.short_text(text, "status message", 256)
