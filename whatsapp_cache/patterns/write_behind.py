"""Write-behind: the write lands in Redis and a durable queue; a worker brings it to the database.

    write:  one script: next version, cached record, XADD to a stream  (all or nothing)
    worker: XAUTOCLAIM entries a dead worker left pending, XREADGROUP new ones,
            keep the newest version per user (coalescing), UPDATE ... WHERE version < new,
            drop cached copies older than what it applied, then XACK + XDEL; its run loop
            (a thread, or the CLI) waits out Redis or the database failing and reads back
            first what a failed pass left pending
    read:   cached record; on a miss the database (which may still lag the queue), not cached
            while the user's version counter is ahead of the row (a newer write is queued)

The seed publishes to a queue after writing the cache, so a failed publish loses the
write, and two workers can apply one user's updates out of order. Here the queue entry
is written in the same script as the cache, entries stay pending until a worker
acknowledges them, and the version check makes a redelivered or late entry harmless.

On a Redis Cluster the stream and a user's keys live in different slots: a write takes two steps
(WriteBehind._enqueue).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field, fields
from urllib.parse import quote

import redis
from redis.backoff import AbstractBackoff, EqualJitterBackoff
from sqlalchemy.exc import SQLAlchemyError

from ..backends import is_cluster
from ..clock import Clock, wait_until
from .concurrency import Steps
from ..db import Repository
from ..keys import KeySchema
from ..metrics import Metrics
from .. import validation
from ..config import error_summary
from ..errors import InvalidInput, NotFound, WhatsAppCacheError
from ..resilience import CacheUnavailable
from ..keys import new_token
from ..backends import queue_script
from ..datatypes.scripts import APPLIED
from ..ttl import TTLs
from .base import StatusPattern

log = logging.getLogger("whatsapp_cache")
GROUP = "db-writers"
STATUS_LIMIT = 256          # the users.status_message column
MAX_VERSION = 2 ** 63 - 1   # the users.version column (BIGINT)
GENERATION_TTL_MS = TTLs().ms("profiles")  # the generation the worker sets lives as long as a profile


def ensure_group(client: redis.Redis, stream: str) -> None:
    """Create the consumer group (and the stream) once; from id 0, so nothing written earlier is skipped."""
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class WriteBehind(StatusPattern):
    """Writes return after one Redis round trip; the database catches up through the worker.

    Versions come from a per-user counter in Redis that never falls behind now * 1000, so every write
    to a key must go through write-behind: a database-side write elsewhere would take its own version
    (the row's + 1) and could overtake the counter. If Redis loses the counter, it restarts from the
    clock, ahead of earlier versions as long as the clock moves forward.
    """

    name = "write-behind"
    summary = "write to Redis and a stream in one script; a worker applies batches to the database"

    def __init__(self, context):
        super().__init__(context)
        self.stream = context.keys.write_behind_stream()
        self.two_steps = is_cluster(context.redis)  # the stream is in another slot: XADD on its own
        ensure_group(context.redis, self.stream)

    def write(self, user_id: str, text: str) -> Steps:
        user_id, text = self._checked(user_id, text)
        keys = self.ctx.keys
        now = self._now()
        ttl = self.ctx.ttl_with_jitter()
        with self.ctx.metrics.request("profiles", "status_write") as trace:
            trace.outcome = "write"
            value = json.dumps(text, ensure_ascii=False)
            status = keys.status(user_id)
            script_keys = [status.data, status.version_counter, status.generation, *status.siblings]
            try:
                version = yield from self._cache(trace, self.ctx.scripts.write_behind,
                                                 keys=script_keys + ([] if self.two_steps else [self.stream]),
                                                 args=[value, now, ttl, user_id, now + ttl, now * 1000, new_token()])
            except CacheUnavailable:
                version = yield from self._write_without_redis(trace, user_id, text, now)
            else:
                if self.two_steps:
                    version = yield from self._enqueue(trace, user_id, text, value, int(version), now)
            self.ctx.truth.committed(user_id, int(version), now)  # acknowledged: this is now the truth
            return int(version)

    def _enqueue(self, trace, user_id: str, text: str, value: str, version: int, now: int) -> Steps:
        """A cluster's step 2: queue the entry step 1 cached; if Redis cannot take it, write the database at that version.

        The stream ({writes}) and a user's keys ({user id}) are in different slots, and no script may
        touch both, so step 1 is the same script on the user's slot (next version, cached record, new
        generation) and step 2 the XADD; only then is the write acknowledged. If the app server dies
        between the steps, the caller got no acknowledgement, but the cached record shows a write that
        was never queued: readers see it until its TTL, then the database's older value (a phantom
        write, as with any dual write). One stream per hash slot would keep the single atomic step but
        make the worker discover and read up to 16,384 streams; one stream keeps the worker, its
        consumer group and its lag exactly as on one Redis.
        """
        entry = {"user_id": user_id, "version": version, "value": value, "enqueued_ms": now}
        try:
            yield from self._cache(trace, self.ctx.redis.xadd, self.stream, entry)
        except CacheUnavailable:
            return (yield from self._write_without_redis(trace, user_id, text, now, floor=version))
        return version

    def _write_without_redis(self, trace, user_id: str, text: str, now: int, floor: int | None = None) -> Steps:
        """No queue to write to: write the database now, above the clock's floor, and repair later.

        Once Redis is back the guard drops the cached record and raises the version counter to
        this version, so the next write-behind write (and the worker) come after it.
        """
        floor = floor if floor is not None else now * 1000 + 1
        version = yield from self._db(trace, self.ctx.repo.write_status_at_least, user_id, text, now, floor)
        if version is None:
            raise NotFound(f"no user with id {user_id!r}")
        if trace.guard is not None:
            keys = self.ctx.keys.status(user_id)
            trace.guard.remember(keys.data, keys.generation, self.ctx.ttl_ms,
                                 counter=(keys.version_counter, version), siblings=keys.siblings)
        return version


@dataclass
class BatchResult:
    """What one worker pass did."""

    claimed: int = 0  # taken back: entries read earlier and never acknowledged (see run_once)
    read: int = 0
    applied: int = 0
    skipped: int = 0
    acknowledged: int = 0

    @property
    def coalesced(self) -> int:
        """Entries that needed no database write of their own (a newer one for the same user came along)."""
        return self.read - self.applied - self.skipped


@dataclass(frozen=True)
class Batch:
    """Entries one worker took from the stream and has not acknowledged yet (see WriteBehindWorker.take)."""

    entries: list
    claimed: int = 0  # how many of them were taken back from an earlier pass or another worker

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class QueueLag:
    waiting: int
    oldest_age_ms: int


@dataclass
class WorkerTotals(BatchResult):
    """Every pass of one worker added up, plus how many passes wrote to the database."""

    passes: int = 0
    db_writes: int = 0


BACKEND_ERRORS = (redis.RedisError, SQLAlchemyError)  # a pass failing with one of these is waited out and retried
LOST_GROUP = ("NOGROUP", "UNBLOCKED")  # error replies meaning the stream or its group is gone
SERVER_TICK_MS = 100  # Redis checks blocked clients' timeouts this often (hz 10)


def retry_backoff() -> AbstractBackoff:
    """The wait after the n-th failed pass in a row: 0.1-0.2 s, doubling up to 2.5-5 s.

    redis-py's equal-jitter backoff: workers that lost the same Redis do not all come back at once.
    """
    return EqualJitterBackoff(cap=5.0, base=0.1)


def block_limit_ms(client: redis.Redis) -> int | None:
    """The longest XREADGROUP BLOCK whose reply comes before `client` gives up on it (its socket timeout).

    Redis ends a BLOCK on its timer (10 times a second by default), so the reply can come up
    to 100 ms late; a quarter of the timeout (at most 400 ms) is left on top for the reply to
    travel. None for a client that never times out.
    """
    timeout_s = client.get_connection_kwargs().get("socket_timeout")
    if not timeout_s:
        return None
    timeout_ms = int(timeout_s * 1000)
    return max(1, timeout_ms - SERVER_TICK_MS - min(400, timeout_ms // 4))


def _lost_group(exc: Exception) -> bool:
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(LOST_GROUP)


@dataclass(frozen=True)
class WorkerState:
    """A worker at one moment: is its loop running, how its passes went, what waits in the stream."""

    consumer: str
    running: bool
    passes: int                 # passes completed by its loop, idle ones included
    failures: int               # passes that failed, all told
    failures_in_a_row: int      # back to 0 once a pass succeeds
    last_error: str | None      # the latest failure in one line, passwords masked
    backlog: int | None         # entries in the stream not yet acknowledged; None when Redis did not answer
    oldest_age_ms: int | None   # how long the oldest of them has waited

    def describe(self) -> str:
        waiting = ("backlog unknown (Redis did not answer)" if self.backlog is None
                   else f"{self.backlog} waiting (oldest {self.oldest_age_ms} ms)")
        last = f"; last error: {self.last_error}" if self.last_error else ""
        return (f"write-behind worker {self.consumer}: {'running' if self.running else 'stopped'}, "
                f"{self.passes} passes, {self.failures} failed ({self.failures_in_a_row} in a row), {waiting}{last}")

    __str__ = describe


@dataclass
class _Health:
    """The run loop's record of its passes; each kind of failure is logged once until a pass succeeds."""

    consumer: str
    running: bool = False
    passes: int = 0
    failures: int = 0
    in_a_row: int = 0
    last_error: str | None = None
    logged: set[str] = field(default_factory=set)

    def passed(self) -> None:
        self.passes += 1
        if self.in_a_row:
            log.warning("write-behind worker %s: working again after %d failed passes", self.consumer, self.in_a_row)
            self.in_a_row = 0
            self.logged.clear()

    def failed(self, kind: str, description: str, action: str) -> None:
        self.failures += 1
        self.in_a_row += 1
        self.last_error = description
        level = logging.DEBUG if kind in self.logged else logging.WARNING
        self.logged.add(kind)
        log.log(level, "write-behind worker %s: %s; %s", self.consumer, description, action)


@dataclass
class WriteBehindWorker:
    """Drains the write-behind stream into the database; many may run, each under its own name."""

    redis: redis.Redis
    repo: Repository
    keys: KeySchema
    clock: Clock
    consumer: str = "worker-1"
    batch: int = 200
    claim_idle_ms: int = 5_000
    metrics: Metrics | None = None
    totals: WorkerTotals = field(default_factory=WorkerTotals)
    backoff: AbstractBackoff = field(default_factory=retry_backoff, repr=False)  # between failed passes in run()
    _health: _Health = field(init=False, repr=False)
    _own_pending: bool = field(default=True, init=False, repr=False)  # may hold entries it read and never acked
    _group_lost: bool = field(default=False, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self.stream = self.keys.write_behind_stream()
        self._applied = self.redis.register_script(APPLIED)
        self._health = _Health(self.consumer)
        ensure_group(self.redis, self.stream)

    def run_once(self, block_ms: int | None = None) -> BatchResult:
        """One pass: take back entries left pending, read new ones, apply, acknowledge.

        A pass that fails after reading leaves its entries pending under this worker's name
        (as does a worker that died and comes back under the same name); the next pass reads
        them back first instead of waiting claim_idle_ms for XAUTOCLAIM.
        """
        return self.apply(self.take(block_ms))

    def take(self, block_ms: int | None = None) -> Batch:
        """A pass's first half: entries left pending, then new ones; all stay pending until apply().

        Useful on its own to show a worker that dies between reading and applying: what it took
        stays pending under its name, and another worker claims it after claim_idle_ms.
        """
        try:
            taken = self._take_back()
            fresh = self._read_new(block_ms if not taken else None)
        except BaseException:
            self._own_pending = True
            raise
        return Batch(taken + fresh, len(taken))

    def apply(self, batch: Batch) -> BatchResult:
        """A pass's second half: apply what take() returned (newest version per user), then acknowledge."""
        try:
            return self._apply(batch.entries, batch.claimed)
        except BaseException:
            self._own_pending = True
            raise

    def _take_back(self) -> list:
        """This worker's own unacknowledged entries, then others' idle past claim_idle_ms (XAUTOCLAIM)."""
        own = self._read_own()
        seen = {entry_id for entry_id, _ in own}
        return own + [entry for entry in self._claim() if entry[0] not in seen]

    def _read_own(self) -> list:
        if not self._own_pending:
            return []
        entries = self._read("0")                       # from id 0: this consumer's pending entries
        self._own_pending = len(entries) >= self.batch  # a full batch: there may be more
        gone = [entry_id for entry_id, entry in entries if not entry]  # deleted meanwhile: nothing to apply
        if gone:
            self.redis.xack(self.stream, GROUP, *gone)
        return [entry for entry in entries if entry[1]]

    def _claim(self) -> list:
        reply = self.redis.xautoclaim(self.stream, GROUP, self.consumer, min_idle_time=self.claim_idle_ms,
                                      start_id="0-0", count=self.batch)
        return [entry for entry in reply[1] if entry[1]]  # entries deleted meanwhile come back empty

    def _read_new(self, block_ms: int | None) -> list:
        try:
            return self._read(">", block_ms)
        except redis.TimeoutError:
            if block_ms is None:
                raise
            # The BLOCK outlived the client's socket timeout: an idle wait, not a failure (a hung Redis
            # fails the next pass's first command). Redis may yet hand entries to the dropped connection.
            log.debug("write-behind worker %s: XREADGROUP BLOCK %d ms timed out; an idle pass", self.consumer, block_ms)
            self._own_pending = True
            return []

    def _read(self, start: str, block_ms: int | None = None) -> list:
        reply = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: start}, count=self.batch, block=block_ms)
        if not reply:
            return []
        return reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]

    def _apply(self, entries: list, claimed: int) -> BatchResult:
        result = BatchResult(claimed=claimed, read=len(entries))
        if not entries:
            return result
        newest: dict[str, tuple[str, int]] = {}
        for entry_id, entry in entries:
            try:
                # Whatever the database would refuse (no string, too long, a version past BIGINT) counts
                # as malformed too: one such entry would otherwise fail every batch it is in, forever.
                user_id = validation.entity_id(entry["user_id"], "user id")
                version = int(entry["version"])
                value = validation.short_text(json.loads(entry["value"]), "status message", STATUS_LIMIT)
                if not 0 < version <= MAX_VERSION:
                    raise ValueError("version out of range")
            except (KeyError, ValueError, TypeError, RecursionError):
                log.warning("write-behind entry %s is malformed; acknowledged and dropped", entry_id)
                continue
            if user_id not in newest or version > newest[user_id][1]:
                newest[user_id] = (value, version)
        result.applied = self._write(newest)
        result.skipped = len(newest) - result.applied
        self._drop_older_copies(newest)
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, *ids)
        pipe.xdel(self.stream, *ids)
        result.acknowledged = pipe.execute()[0]
        self._count(result, bool(newest))
        return result

    def _drop_older_copies(self, newest: dict[str, tuple[str, int]]) -> None:
        """Once the database has each user's version, drop cached copies that may be older (scripts.APPLIED).

        Fills are refused while a newer version is queued (the version counter is ahead of the row);
        this also covers a counter that was lost meanwhile. Before the acknowledgement: if it fails,
        the batch is redelivered and this runs again.
        """
        if not newest:
            return
        pipe = self.redis.pipeline(transaction=False)  # on a cluster: one write per master, sent together
        for user_id, (_value, version) in newest.items():
            keys = self.keys.status(user_id)
            queue_script(self._applied, pipe, [keys.data, keys.generation, *keys.siblings],
                         [version, new_token(), GENERATION_TTL_MS])
        pipe.execute()

    def _write(self, newest: dict[str, tuple[str, int]]) -> int:
        if self.metrics is None:
            return self.repo.apply_status_updates(newest, self.clock.now_ms())
        with self.metrics.request("profiles", "status_flush") as trace:
            trace.outcome = "write"
            return trace.db(self.repo.apply_status_updates, newest, self.clock.now_ms())

    def _count(self, result: BatchResult, wrote: bool) -> None:
        totals = self.totals
        for counter in fields(BatchResult):
            setattr(totals, counter.name, getattr(totals, counter.name) + getattr(result, counter.name))
        totals.passes += 1
        totals.db_writes += int(wrote)

    def drain(self, max_passes: int = 1_000) -> WorkerTotals:
        """Pass until the stream has nothing new for this worker."""
        for _ in range(max_passes):
            if not self.run_once().read:
                break
        return self.totals

    def wait_until_empty(self, timeout_s: float = 10.0, poll_s: float = 0.05) -> bool:
        """With the worker running on its thread (start()): wait until nothing waits in the stream.

        Returns whether the stream emptied within `timeout_s` (wall-clock seconds).
        """
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 <= timeout_s <= 3600:
            raise InvalidInput("timeout_s must be a number of seconds from 0 to 3600")
        return wait_until(lambda: not self.lag().waiting, timeout_s, poll_s)

    def lag(self) -> QueueLag:
        """Entries not yet acknowledged, and how long the oldest has waited (on this worker's clock)."""
        entries = self.redis.xrange(self.stream, count=1)  # acknowledged entries are deleted
        waiting = self.redis.xlen(self.stream)
        if not entries:
            return QueueLag(0, 0)
        try:
            enqueued = int(entries[0][1].get("enqueued_ms", self.clock.now_ms()))
        except ValueError:  # a malformed entry the next pass will drop: no age to report
            enqueued = self.clock.now_ms()
        return QueueLag(waiting, max(0, self.clock.now_ms() - enqueued))

    def steps(self) -> Steps:
        """One pass as simulation steps: the stream round trips and the database batch take simulated time."""
        before = self.totals.passes
        result = self.run_once()
        latency = self.metrics.latency if self.metrics is not None else None
        if latency is not None:
            yield latency.cache_round_trip() * (2 + int(result.claimed > 0))
            if self.totals.passes > before and result.applied + result.skipped:
                yield latency.database_query(write=True)
                yield latency.cache_round_trip()  # dropping older cached copies (_drop_older_copies)
        return result

    # the run loop, for the CLI and for a background thread

    def run(self, stop: threading.Event, block_ms: int = 200) -> WorkerTotals:
        """Pass until `stop` is set, outlasting Redis and the database going away; start() and the CLI run this.

        A pass that fails (either backend down, hung, timing out or refusing) is logged, once per
        kind of failure until a pass succeeds, waited out with `backoff` and tried again; what it
        read stays pending and the next pass reads it back, so no acknowledged write is dropped.
        A stream or group that is gone (Redis restarted empty) is created again, from id 0.
        `block_ms` is cut to what the client's socket timeout allows, so waiting idle never times
        out. Any other exception is a bug, and is raised.
        """
        block_ms = self._block_within_timeout(block_ms)
        self._health.running = True
        try:
            while not stop.is_set():
                try:
                    self._pass(block_ms)
                except BACKEND_ERRORS as exc:
                    self._failed(exc)
                    stop.wait(self.backoff.compute(self._health.in_a_row))
        finally:
            self._health.running = False
        return self.totals

    def _pass(self, block_ms: int) -> None:
        if self._group_lost:
            ensure_group(self.redis, self.stream)
            self._group_lost = False
        self.run_once(block_ms=block_ms)
        self._health.passed()

    def _failed(self, exc: Exception) -> None:
        self._group_lost = _lost_group(exc)
        where = "Redis" if isinstance(exc, redis.RedisError) else "database"
        description = f"{where}: {error_summary(exc, self._secrets())}"
        if self._group_lost:
            self._health.failed("lost group", description + " (the stream or its group is gone)",
                                "creating the group again")
        else:
            self._health.failed(f"{where} {type(exc).__name__}", description, "retrying")

    def _secrets(self) -> set[str]:
        """The passwords of this worker's Redis and database, never to appear in a log line or state()."""
        engine = getattr(self.repo, "engine", None)
        passwords = (self.redis.get_connection_kwargs().get("password"), engine and engine.url.password)
        return {form for password in passwords if password for form in (str(password), quote(str(password), safe=""))}

    def _block_within_timeout(self, block_ms: int) -> int:
        if isinstance(block_ms, bool) or not isinstance(block_ms, int) or block_ms < 1:
            raise InvalidInput("block_ms must be a whole number of milliseconds, at least 1")
        limit = block_limit_ms(self.redis)
        return block_ms if limit is None else min(block_ms, limit)

    def state(self) -> WorkerState:
        """Running or not, passes and failures so far, the last error, and the backlog now."""
        try:
            lag = self.lag()
        except BACKEND_ERRORS:  # Redis is away: say so instead of failing
            lag = None
        health = self._health
        return WorkerState(self.consumer, health.running, health.passes, health.failures, health.in_a_row,
                           health.last_error, None if lag is None else lag.waiting,
                           None if lag is None else lag.oldest_age_ms)

    @property
    def running(self) -> bool:
        return self._health.running

    # a background thread, for notebooks and tests with real concurrency

    def start(self, block_ms: int = 200) -> None:
        """Run the loop (see run()) on a daemon thread until stop()."""
        if self._thread is not None and self._thread.is_alive():
            raise WhatsAppCacheError(f"write-behind worker {self.consumer} is already started")
        block_ms = self._block_within_timeout(block_ms)  # bad input is raised here, not in the thread
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_thread, args=(block_ms,), name=self.consumer, daemon=True)
        self._thread.start()

    def _run_thread(self, block_ms: int) -> None:
        try:
            self.run(self._stop, block_ms)
        except Exception as exc:  # a bug, not a backend failure: the thread ends, loudly, and state() says why
            self._health.last_error = error_summary(exc, self._secrets())
            log.exception("write-behind worker %s stopped by an unexpected error", self.consumer)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread after the pass in hand; wait up to `timeout_s` for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if not self._thread.is_alive():
                self._thread = None
