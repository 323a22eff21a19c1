"""A World wires cache, database, clock, latency model and metrics together in one line.

    world = World()                       # embedded: fakeredis + in-memory SQLite, small data set
    world = World(redis_url="redis://127.0.0.1:6379/0",
                  database_url="postgresql+psycopg://postgres@127.0.0.1/whatsapp")
    world = World(redis_url="redis://127.0.0.1:7000/0?cluster=true")   # a Redis Cluster, through any node
"""

from __future__ import annotations

import random
import secrets
from typing import Callable

from sqlalchemy.exc import InterfaceError, OperationalError

from .backends import HitReader, describe_failure, make_engine, make_redis
from .clock import Clock, SimulatedClock
from .config import BackendConfig
from .db.dataset import SIZES, Dataset, generate, load
from .datatypes import Context, GroupMembers, Presence, Profiles, RecentMessages, Sessions
from .datatypes.scripts import Scripts
from .db import Repository, image
from .errors import ConfigError, InvalidInput
from .keys import KeySchema
from .resilience.last_known_good import LastKnownGood
from .latency import LatencyModel
from .metrics import Metrics
from .resilience import UNAVAILABLE, CacheGuard, FailurePolicy, log
from .ttl import TTLs


class World:
    """Everything one course experiment or one app server needs, built from two URLs.

    Without arguments the URLs come from WHATSAPP_CACHE_REDIS_URL and
    WHATSAPP_CACHE_DATABASE_URL, and fall back to the embedded backends; with
    `environment=False` a URL not given means the embedded backend, whatever the
    environment says (the course's fresh embedded experiments). The clock is
    simulated unless one is passed (use SystemClock() in production). `dataset` names a
    synthetic data set size to load into an empty database ("small", "large" or None).
    `failure_policy` sets Redis timeouts and the circuit breaker (see resilience/); a World
    starts and serves from the database even while Redis is down. With its `stale_if_error_ms`
    set, `world.last_good` keeps the last value of each read (resilience/last_known_good.py). A Redis Cluster (a URL with
    ?cluster=true) is the exception: redis-py asks a node for the slot map when the client is
    built, so a World raises ClusterUnreachable (a redis.ConnectionError) if no node answers then.

    The database is the source of truth: one that does not answer is a ConfigError naming its URL.

    `world.metrics` counts every request; its request log (`world.metrics.log`, the rows of
    `to_duckdb()`) keeps only the newest 100,000 records (metrics.LOG_SIZE, some 22 MB), so a
    long-running app server stays bounded. Set `world.metrics.log_size = None` to keep every
    record, `world.metrics.keep_log = False` to keep none; the counters stay exact either way.
    """

    def __init__(self, redis_url: str | None = None, database_url: str | None = None, *,
                 clock: Clock | None = None, seed: int = 0, ttls: TTLs | None = None,
                 latency: LatencyModel | None = None, dataset: str | None = "small",
                 namespace: str = "wc", token_factory: Callable[[], str] | None = None,
                 failure_policy: FailurePolicy | None = None, environment: bool = True):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInput("seed must be an integer")
        if ttls is not None and not isinstance(ttls, TTLs):
            raise InvalidInput("ttls must be a TTLs instance")
        if failure_policy is not None and not isinstance(failure_policy, FailurePolicy):
            raise InvalidInput("failure_policy must be a FailurePolicy instance")
        if dataset is not None and (not isinstance(dataset, str) or dataset not in SIZES):
            raise InvalidInput(f"dataset must be one of {sorted(SIZES)} or None, got {dataset!r}")
        if clock is not None and (isinstance(clock, type) or not callable(getattr(clock, "now_ms", None))):
            raise InvalidInput(f"clock must have a now_ms() method (SimulatedClock, SystemClock), "
                               f"not {clock!r:.60}")
        self.config = BackendConfig.resolve(redis_url, database_url, environment=environment)
        self.seed = seed
        self.clock = clock if clock is not None else SimulatedClock()
        self.latency = latency if latency is not None else LatencyModel(seed=seed)
        if self.latency.database is not None and self.latency.database.clock is None:
            self.latency.database.clock = self.clock  # a database with a capacity measures load on this clock
        self.keys = KeySchema(namespace)
        self.failure_policy = failure_policy if failure_policy is not None else FailurePolicy()
        self.redis = make_redis(self.config, self.failure_policy.timeout_s,
                                self.failure_policy.connect_timeout_s, fail_fast=True)
        self.reader = HitReader(self.redis)
        self.guard = CacheGuard(self.redis, self.clock, self.failure_policy, flush=self.flush_cache)
        self.metrics = Metrics(self.latency, self.clock, guard=self.guard)
        self.last_good = self._last_good(self.failure_policy)
        self.engine = make_engine(self.config)
        self.repo = Repository(self.engine)
        self.scripts = Scripts(self.redis)
        self._ttls = ttls if ttls is not None else TTLs()
        self._token_factory = token_factory or (lambda: secrets.token_urlsafe(32))
        self.dataset: Dataset | None = None
        self._build_types()
        self._try_cache(self.scripts.preload)
        self._create_schema()
        if dataset is not None:
            self._load_if_empty(dataset)

    def _build_types(self) -> None:
        context = Context(self.redis, self.repo, self.keys, self.clock, self.metrics, self.scripts,
                          self._ttls, self._token_factory, random.Random(self.seed), self.reader, self.last_good)
        self.sessions = Sessions(context)
        self.presence = Presence(context)
        self.messages = RecentMessages(context)
        self.profiles = Profiles(context)
        self.groups = GroupMembers(context)

    def _last_good(self, policy: FailurePolicy) -> LastKnownGood | None:
        """Stale-if-error's store of last known good copies, if the policy turns it on (else None)."""
        if policy.stale_if_error_ms is None:
            return None
        return LastKnownGood(self.clock, policy.stale_if_error_ms, policy.stale_entries, policy.stale_first)

    @property
    def ttls(self) -> TTLs:
        return self._ttls

    @ttls.setter
    def ttls(self, value: TTLs) -> None:
        if not isinstance(value, TTLs):
            raise InvalidInput("ttls must be a TTLs instance")
        self._ttls = value
        self._build_types()

    def _create_schema(self) -> None:
        """Create the course tables if missing: the first call that reaches the database.

        A database that cannot be reached (refused, unknown, a wrong password) is a ConfigError
        naming its URL, masked, instead of the driver's traceback; nothing is left open.
        """
        try:
            self.repo.create_schema()
        except (OperationalError, InterfaceError) as exc:
            self.close()
            raise ConfigError(f"cannot reach {describe_failure(exc, self.config)}") from None

    def _load_if_empty(self, size: str) -> None:
        self.dataset = generate(size=size, seed=self.seed)
        if self.repo.row_counts()["users"] == 0:
            self._load(self.dataset)
            if not self._try_cache(self.flush_cache):
                self.guard.flush_when_back()  # whatever Redis holds describes another database

    def _load(self, dataset: Dataset) -> None:
        """Insert the data set; the embedded database copies a loaded image after its first load."""
        if not image.is_embedded(self.engine):
            load(self.repo, dataset)
            return
        key = (dataset.size, dataset.seed)
        if not image.restore(self.engine, key):
            load(self.repo, dataset)
            image.keep(self.engine, key)

    def _try_cache(self, step: Callable[[], object]) -> bool:
        """Run a start-up step on Redis; an unavailable Redis is logged, not fatal (requests use the database)."""
        try:
            step()
            return True
        except UNAVAILABLE as exc:
            log.warning("Redis unavailable at start (%s); requests will use the database until it answers",
                        type(exc).__name__)
            return False

    def flush_cache(self, keep_queue: bool = True) -> int:
        """Delete the keys of this world's namespace (and nothing else); return how many.

        Write-behind's stream and version counters are not cache but writes on their way to
        the database, so they stay unless `keep_queue` is False (reset() drops them with the schema).
        """
        # On a Redis Cluster scan_iter walks every master in turn, and DEL of a batch is split by
        # slot into one pipelined write per master: no multi-key command crosses a slot.
        deleted = 0
        batch = []
        for key in self.redis.scan_iter(match=self.keys.pattern(), count=1000):
            if keep_queue and self.keys.is_queue(key):
                continue
            batch.append(key)
            if len(batch) == 500:
                deleted += self.redis.delete(*batch)
                batch.clear()
        if batch:
            deleted += self.redis.delete(*batch)
        return deleted

    def reset(self, dataset: str | None = "small") -> None:
        """Drop and recreate the schema, empty the cache and metrics, reload a data set."""
        self.repo.drop_schema()
        self.repo.create_schema()
        self.flush_cache(keep_queue=False)
        self.metrics.reset()
        self.dataset = None
        if dataset is not None:
            self._load_if_empty(dataset)

    def close(self) -> None:
        self.reader.close()
        self.redis.close()
        self.engine.dispose()

    def __enter__(self) -> "World":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"World(redis={self.config.redis_label!r}, database={self.config.database_label!r}, "
                f"clock={self.clock!r}, namespace={self.keys.namespace!r})")
