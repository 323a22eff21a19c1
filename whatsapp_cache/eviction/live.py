"""Replay a key trace on a real redis-server under maxmemory, and read what its eviction did.

    start a throw-away redis-server (or use `url`: an empty server, its settings restored after)
    CONFIG SET maxmemory-policy, maxmemory-samples, latency-tracking no
    calibrate maxmemory so that about `resident_keys` keys fit (_calibrate); FLUSHALL
    [warm-up: replay trace[:warmup], not counted]
    CONFIG RESETSTAT; replay the rest in batches; INFO stats: keyspace hits, misses, evicted_keys

Redis' own random choices cannot be seeded (it seeds rand() from the time and its pid), so live runs
differ slightly from one another; `seed` only changes volatile-ttl's TTLs.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import redis

from ..errors import ConfigError, InvalidInput
from ..validation import whole_number
from ..lab.process import RedisProcess
from .redis_models import RedisLFUModel, RedisLRUModel, model_hit_ratio
from .simulator import simulate
from ..tables import Column, format_table

POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-ttl")
SETTINGS = ("maxmemory", "maxmemory-policy", "maxmemory-samples", "latency-tracking")


@dataclass(frozen=True)
class LiveResult:
    """What a live Redis did with one trace, from its own INFO stats."""

    policy: str
    requests: int
    hits: int
    misses: int
    hit_ratio: float
    evictions: int
    resident_keys_observed: int  # median DBSIZE over the second half of the measured replay (see _Replayer)
    maxmemory: int
    elapsed_s: float = 0.0
    clock: tuple[tuple[int, int], ...] = field(default=(), repr=False)  # (first request, Unix second)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def request_seconds(self) -> np.ndarray:
        """The Unix second (Redis' LRU clock, one-second resolution) at each measured request.

    The replay runs as fast as the server answers, which makes that clock coarse: pass these to
    `redis_models.RedisLRUModel.replay(trace, seconds=...)` to model it.
    """
        seconds = np.empty(self.requests, dtype=np.int64)
        for (start, second), (end, _) in zip(self.clock, (*self.clock[1:], (self.requests, 0))):
            seconds[start:end] = second
        return seconds


def replay_on_redis(trace, policy: str, resident_keys: int, *, value_bytes: int = 64, samples: int = 5,
                    url: str | None = None, seed: int = 0, batch: int = 100, warmup: int = 0,
                    progress: bool = False) -> LiveResult:
    """Replay `trace` (int key ids) on a redis-server holding about `resident_keys` keys under `policy`.

    `samples` is maxmemory-samples; `batch` requests go per pipeline pair; the first `warmup` requests
    are replayed but not counted. Without `url` a throw-away redis-server is started and stopped; a
    `url` must point at an empty server, whose stats are reset and which is flushed and given its
    maxmemory settings back afterwards. `progress` shows a tqdm bar.
    """
    keys = _trace(trace)
    if policy not in POLICIES:
        raise InvalidInput(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    resident_keys = whole_number(resident_keys, "resident_keys", 1, 10_000_000)
    value_bytes = whole_number(value_bytes, "value_bytes", 1, 1_000_000)
    samples = whole_number(samples, "samples", 1, 64)
    seed = whole_number(seed, "seed", 0, 2**31)
    batch = whole_number(batch, "batch", 1, 100_000)
    warmup = whole_number(warmup, "warmup", 0, len(keys) - 1)
    server = None if url is not None else RedisProcess().start()
    try:
        client = _connect(url) if url is not None else server.client()
        saved = _claim(client) if url is not None else None
        try:
            return _run(client, keys, policy, resident_keys, value_bytes, samples, seed, batch, warmup, progress)
        finally:
            if saved is not None:
                client.flushall()
                for name, value in saved.items():
                    client.config_set(name, value)
            client.close()
    finally:
        if server is not None:
            server.stop()


def _run(client, keys, policy, resident_keys, value_bytes, samples, seed, batch, warmup, progress) -> LiveResult:
    # Redis 7 keeps a latency histogram per command used (some tens of KB each) until CONFIG RESETSTAT:
    # enough to move the resident count by several per cent between calibration and replay.
    try:
        client.config_set("latency-tracking", "no")
    except redis.ResponseError:
        pass  # before Redis 7 there are no per-command histograms to switch off
    client.config_resetstat()  # frees the histograms of the commands run so far
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", policy)
    client.config_set("maxmemory-samples", samples)
    largest_id = max(int(keys.max()), 8 * resident_keys)  # calibration's dummy ids too: one key width for all
    replayer = _Replayer(client, value_bytes, policy == "volatile-ttl", seed, batch, largest_id)
    maxmemory = _calibrate(client, replayer, resident_keys, keys)
    bar = _bar(len(keys), policy) if progress else None
    try:
        if warmup:
            replayer.replay(keys[:warmup], bar)
        client.config_resetstat()
        measured = keys[warmup:]
        started = time.perf_counter()
        sizes, clock = replayer.replay(measured, bar)
        elapsed = time.perf_counter() - started
    finally:
        if bar is not None:
            bar.close()
    stats = client.info("stats")
    hits, misses = stats["keyspace_hits"], stats["keyspace_misses"]
    observed = round(statistics.median(sizes[len(sizes) // 2:]))
    return LiveResult(policy, len(measured), hits, misses, hits / max(hits + misses, 1), stats["evicted_keys"],
                      observed, maxmemory, elapsed, tuple(clock))


class _Replayer:
    """Sends a batch's GETs as one pipeline, then the SETs of its misses and a DBSIZE as another.

    A key missed twice within one batch is SET once (a second SET would be an overwrite, which touches
    the LFU counter): two misses, where a one-by-one replay would count a miss and a hit. SETs land at
    the end of their batch, so Redis evicts a little later than request by request: on a 300,000-request
    Zipf(1.0) trace, exact LRU with these semantics differs by 0.02 points of hit ratio at batch 100.

    Keys are `<prefix>:<id>` zero-padded to one width, values `value_bytes` bytes: every key costs the
    same memory. For volatile-ttl each key's TTL is 3600 + (id * 7919 + seed) % 3600 s: one to two hours,
    so nothing expires during a replay and Redis evicts the key whose deadline comes first.

    DBSIZE is read inside the pipelines, so the resident count is observed with the client's query and
    reply buffers in use (they count in used_memory). Redis resizes those buffers as it goes
    (clientsCron), so with under a couple of thousand resident keys the count can drift by several per
    cent from `resident_keys` during a replay.
    """

    def __init__(self, client, value_bytes: int, with_ttl: bool, seed: int, batch: int, largest_id: int):
        self.client = client
        self.value = b"v" * value_bytes
        self.with_ttl, self.seed, self.batch = with_ttl, seed, batch
        self.width = len(str(largest_id))

    def replay(self, keys: np.ndarray, bar=None, prefix: str = "k") -> tuple[list[int], list[tuple[int, int]]]:
        """Run every request; DBSIZE after each batch, and (request, Unix second) where a second began."""
        ids = keys.tolist()
        ttls = ((keys * 7919 + self.seed) % 3600 + 3600).tolist() if self.with_ttl else None
        sizes, clock = [], []
        for start in range(0, len(ids), self.batch):
            second = int(time.time())
            if not clock or clock[-1][1] != second:
                clock.append((start, second))
            chunk = range(start, min(start + self.batch, len(ids)))
            names = [f"{prefix}:{ids[i]:0{self.width}d}" for i in chunk]
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.get(name)
            found = pipe.execute()
            pipe = self.client.pipeline(transaction=False)
            missed = set()
            for i, name, value in zip(chunk, names, found):
                if value is None and name not in missed:  # a key missed twice in a batch is SET once
                    missed.add(name)
                    pipe.set(name, self.value, ex=ttls[i] if ttls else None)
            pipe.dbsize()
            sizes.append(pipe.execute()[-1])
            if bar is not None:
                bar.update(len(chunk))
        return sizes, clock


def _calibrate(client, replayer: _Replayer, resident_keys: int, keys: np.ndarray, rounds: int = 3) -> int:
    """Set maxmemory so that about `resident_keys` keys fit, measured with the replay's own requests.

    Bytes per key come from INFO used_memory around a fill without a limit. Each round then starts
    empty (as the replay will) and fills 1.5x that many new dummy keys under the limit: the DBSIZE
    it settles at moves the limit by the keys it missed by. A last round replays the head of the
    trace itself, whose hits fill reply buffers that a fill of new keys leaves empty.
    """
    dummy = np.arange(resident_keys, dtype=np.int64)
    before = _used_memory(client)
    replayer.replay(dummy, prefix="c")
    after = _used_memory(client)
    per_key = max((after - before) / resident_keys, 1.0)
    maxmemory = after
    probe = np.arange(resident_keys * 3 // 2, dtype=np.int64)
    probes = [(probe + resident_keys * (1 + 2 * n), "c") for n in range(rounds)] + [(keys[:4 * resident_keys], "k")]
    for requests, prefix in probes:
        client.flushall()
        client.config_set("maxmemory", maxmemory)
        client.config_resetstat()
        sizes, _ = replayer.replay(requests, prefix=prefix)
        if client.info("stats")["evicted_keys"]:  # a head of the trace too short to fill the cache says nothing
            maxmemory += round((resident_keys - statistics.median(sizes[-len(sizes) // 3:])) * per_key)
    client.config_set("maxmemory", maxmemory)
    client.flushall()
    return maxmemory


def _connect(url: str) -> redis.Redis:
    try:
        return redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5)
    except ValueError as exc:
        raise ConfigError(f"not a Redis url: {exc}") from exc


def _claim(client) -> dict[str, str]:
    """Check that a given server is empty (eviction is server-wide) and save the settings we change."""
    try:
        keyspace = client.info("keyspace")
    except redis.RedisError as exc:
        raise ConfigError(f"cannot reach the Redis at the given url: {exc}") from exc
    if any(db.get("keys", 0) for db in keyspace.values()):
        raise ConfigError("the Redis at the given url holds keys; eviction under maxmemory is server-wide, "
                          "so replay only on an empty server")
    return {name: value for name in SETTINGS for name, value in client.config_get(name).items()}


def _used_memory(client) -> int:
    return int(client.info("memory")["used_memory"])


def _bar(total: int, policy: str):
    from tqdm.auto import tqdm  # only with a progress bar: it loads in about 0.06 s

    return tqdm(total=total, desc=f"replaying on Redis ({policy})", unit="request")


def _trace(trace) -> np.ndarray:
    array = np.asarray(trace)
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
        raise InvalidInput("trace must be a non-empty one-dimensional sequence of integer key ids")
    if array.min() < 0:
        raise InvalidInput("trace key ids must not be negative")
    return array.astype(np.int64, copy=False)



# --- the live Redis beside the models and the exact policies ------------------------------------

MODELLED = {"allkeys-lru": "lru", "allkeys-lfu": "lfu"}  # live policy -> exact policy with a Redis model


@dataclass(frozen=True)
class PolicyComparison:
    """One maxmemory-policy on a live Redis, its Redis model on the same clock, and the exact policy."""

    policy: str
    resident: int                # keys the live Redis held once full
    live_ratio: float
    model_ratio: float | None    # None: no model of this policy
    exact_ratio: float | None    # the exact LRU/LFU at the same size


def compare_policies(trace, policies=POLICIES, resident_keys: int = 1_000) -> list[PolicyComparison]:
    """Replay `trace` on a live redis-server per policy; model and exact policy at the size Redis reached.

    The model replays with the live run's own seconds (Redis' LRU clock has one-second resolution).
    """
    models = {"allkeys-lru": RedisLRUModel, "allkeys-lfu": RedisLFUModel}
    rows = []
    for policy in policies:
        live = replay_on_redis(trace, policy, resident_keys)
        resident = live.resident_keys_observed
        model = exact = None
        if policy in MODELLED:
            model = model_hit_ratio(models[policy](resident), trace, seconds=live.request_seconds())
            exact = simulate(trace, MODELLED[policy], resident).hit_ratio
        rows.append(PolicyComparison(policy, resident, live.hit_ratio, model, exact))
    return rows


def describe_policy_comparison(rows: list[PolicyComparison]) -> str:
    """A table, one line per policy; blank where a policy has no model."""
    columns = (Column("maxmemory-policy", "<"), Column("resident", format=","), Column("live Redis", format=".4f"),
               Column("model", format=".4f", width=7), Column("exact", format=".4f", width=7))
    return format_table(columns, [(r.policy, r.resident, r.live_ratio, r.model_ratio, r.exact_ratio) for r in rows])
