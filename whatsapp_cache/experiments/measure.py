"""Measured, not assumed: real latencies through the library per backend, and SQL over the request log.

    rows = measure_backends([BackendSpec("embedded"),
                             BackendSpec("live Redis + PostgreSQL", "redis://127.0.0.1:6379/0",
                                         "postgresql+psycopg://postgres@127.0.0.1:5432/whatsapp")])
    print(format_timings(rows))                    # microseconds, beside the seed's 1-5 ms / 50-100 ms

    con = world.metrics.to_duckdb()                # after a seeded workload
    ask(con, "hit_ratio")                          # one of QUESTIONS, answered with SQL

Wall-clock figures differ run to run and machine to machine; the DuckDB questions use the
simulated latencies, so their answers repeat exactly for a seeded run.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from types import MappingProxyType

import numpy as np
import redis
import sqlalchemy as sa

from ..backends import make_engine
from ..config import DATABASE_URL_ENV, REDIS_URL_ENV, BackendConfig, error_detail
from ..errors import InvalidInput
from ..latency import LatencyModel
from .loadmodel import quantile
from ..metrics import DATA_TYPES, READ_OUTCOMES, percentile
from ..tables import RULE, Column, table_lines
from ..world import World

MAX_REQUESTS = 1_000_000
SQLITE_IN_MEMORY = "sqlite://"
PROGRESS_STEP = 100


class _NotMeasured(Exception):
    """A backend answered, but not as a measurement needs (e.g. reads fell back to the database)."""


@dataclass(frozen=True)
class BackendSpec:
    """A named pair of URLs to measure; None means the embedded backend (the environment is not read)."""

    name: str
    redis_url: str | None = None
    database_url: str | None = None


@dataclass(frozen=True)
class LatencyStats:
    """Median and p99 of one kind of request, in microseconds.

    `in_calls_median_us` is the median time spent inside the Redis and database calls (the
    Trace's measured_ms); the rest of `median_us` is the library's own Python work.
    """

    median_us: float
    p99_us: float
    samples: int
    in_calls_median_us: float | None = None


@dataclass(frozen=True)
class BackendTiming:
    """One backend's measured latencies, or why it could not be measured (`unavailable`)."""

    name: str
    redis: str
    database: str
    hit: LatencyStats | None = None
    query: LatencyStats | None = None
    miss: LatencyStats | None = None
    miss_round_trips: int = 0
    miss_db_queries: int = 0
    unavailable: str | None = None


def default_backends() -> list[BackendSpec]:
    """Embedded; plus live Redis + SQLite and live Redis + the database when the usual env vars name them."""
    specs = [BackendSpec("embedded")]
    redis_url, database_url = os.environ.get(REDIS_URL_ENV), os.environ.get(DATABASE_URL_ENV)
    if redis_url:
        specs.append(BackendSpec("live Redis + SQLite", redis_url, SQLITE_IN_MEMORY))
        if database_url:
            specs.append(BackendSpec("live Redis + database", redis_url, database_url))
    return specs


def measure_backends(backends: Sequence[BackendSpec] | None = None, *, requests: int = 1_000, seed: int = 0,
                     dataset: str = "tiny", namespace: str = "measure", progress: bool = True) -> list[BackendTiming]:
    """Time a cache hit, a bare database query and a read-through miss on each backend.

    All three read user profiles of the data set, cycling over its users in a seeded order,
    and are timed end to end around one library call (time.perf_counter):

    - hit: `profiles.get` on an entry filled beforehand; the trace must say hit (one round trip).
    - query: `repo.user`, the one parameterized SELECT that a profile miss runs, without the cache.
    - miss: `profiles.get` right after the entry's data key was deleted (outside the timed span):
      the failed HGETALL, the generation read, the SELECT and the atomic fill, as a cold read pays.

    Each World keeps its keys under `namespace`; its keys are flushed afterwards, and the course
    tables are dropped only where this call created them. A backend that cannot be reached is
    returned with `unavailable` set instead of raising.
    """
    specs = default_backends() if backends is None else _checked_specs(backends)
    requests = _checked_requests(requests)
    bar = _progress_bar(len(specs) * 3 * requests, progress)
    rows = []
    try:
        for done, spec in enumerate(specs, 1):
            rows.append(_measure_one(spec, requests, seed, dataset, namespace, bar))
            if bar is not None:
                bar.update(done * 3 * requests - bar.n)  # the remainder, or a skipped backend's share
        return rows
    finally:
        if bar is not None:
            bar.close()


def _checked_specs(backends: object) -> list[BackendSpec]:
    if isinstance(backends, (str, bytes)) or not isinstance(backends, Sequence) or not backends:
        raise InvalidInput("backends must be a non-empty sequence of BackendSpec")
    if not all(isinstance(spec, BackendSpec) for spec in backends):
        raise InvalidInput("every backend must be a BackendSpec(name, redis_url, database_url)")
    return list(backends)


def _checked_requests(requests: object) -> int:
    if isinstance(requests, bool) or not isinstance(requests, Integral) or not 1 <= requests <= MAX_REQUESTS:
        raise InvalidInput(f"requests must be a whole number from 1 to {MAX_REQUESTS:,}, got {requests!r}")
    return int(requests)


def _progress_bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="measuring backends", unit="request")


def _measure_one(spec: BackendSpec, requests: int, seed: int, dataset: str, namespace: str, bar) -> BackendTiming:
    """One backend's timings; connection failures become an `unavailable` row."""
    config = BackendConfig.resolve(spec.redis_url, spec.database_url, environment=False)
    labels = (spec.name, config.redis_label, config.database_label)
    world = None
    created_schema = False
    try:
        created_schema = not _has_course_tables(config)
        world = World(spec.redis_url, spec.database_url, seed=seed, dataset=dataset, namespace=namespace,
                      environment=False)
        world.redis.ping()
        return _time_profiles(world, labels, requests, seed, bar)
    except (redis.RedisError, sa.exc.DBAPIError) as exc:
        url = (config.redis_url if isinstance(exc, redis.RedisError) else config.database_url) or ""
        return BackendTiming(*labels, unavailable=_reason(url, exc))
    except _NotMeasured as exc:
        return BackendTiming(*labels, unavailable=str(exc))
    finally:
        if world is not None:
            _clean_up(world, created_schema)


def _has_course_tables(config: BackendConfig) -> bool:
    """Whether the database already holds the course's tables (then they are not ours to drop)."""
    engine = make_engine(config)
    try:
        return sa.inspect(engine).has_table("users")
    finally:
        engine.dispose()


def _reason(url: str, exc: Exception) -> str:
    detail = error_detail(url, exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0] if detail else ''}".rstrip(": ")


def _clean_up(world: World, drop_schema: bool) -> None:
    try:
        world.flush_cache(keep_queue=False)
    except redis.RedisError:
        pass  # an unavailable Redis holds nothing of this run
    try:
        if drop_schema:
            world.repo.drop_schema()
    finally:
        world.close()


def _time_profiles(world: World, labels: tuple[str, str, str], requests: int, seed: int, bar) -> BackendTiming:
    """Warm up, then time hits, bare queries and misses over the data set's users."""
    users = _known_users(world, seed)
    if not users:
        raise _NotMeasured("the database holds none of the data set's users")
    order = [users[i % len(users)] for i in range(requests)]
    for user in users:  # connections, compiled statements and loaded scripts; fills every entry
        world.profiles.get(user)
        world.repo.user(user)
    hit = _timed_reads(world, order, "hit", None, bar)
    query = _timed_queries(world, order, bar)
    miss = _timed_reads(world, order, "miss", world.keys.profile, bar)
    miss_record = world.metrics.log[-1]
    return BackendTiming(*labels, hit=hit, query=query, miss=miss,
                         miss_round_trips=miss_record.round_trips, miss_db_queries=miss_record.db_queries)


def _known_users(world: World, seed: int) -> list[str]:
    """The data set's user ids that the database knows, in a seeded order."""
    ids = [row["id"] for row in world.dataset.tables["users"]]
    known = world.repo.existing_users(ids)
    users = [user for user in ids if user in known]
    random.Random(seed).shuffle(users)
    return users


def _timed_reads(world: World, order: list[str], outcome: str, evict, bar) -> LatencyStats:
    """Time profiles.get per user; `evict(user)` names keys to delete first (a miss)."""
    samples = []
    with world.metrics.recording() as records:
        for i, user in enumerate(order):
            if evict is not None:
                world.redis.delete(evict(user).data)
            started = time.perf_counter()
            world.profiles.get(user)
            samples.append(time.perf_counter() - started)
            _tick(bar, i)
    outcomes = {record.outcome for record in records}
    if outcomes != {outcome}:
        raise _NotMeasured(f"expected every read to be a {outcome}, got {sorted(outcomes)}")
    in_calls = [record.measured_ms / 1000 for record in records]
    return _stats(samples, in_calls)


def _timed_queries(world: World, order: list[str], bar) -> LatencyStats:
    """Time the miss path's SELECT alone, through the repository."""
    samples = []
    for i, user in enumerate(order):
        started = time.perf_counter()
        world.repo.user(user)
        samples.append(time.perf_counter() - started)
        _tick(bar, i)
    return _stats(samples)


def _tick(bar, i: int) -> None:
    if bar is not None and (i + 1) % PROGRESS_STEP == 0:
        bar.update(PROGRESS_STEP)


def _stats(seconds: list[float], in_calls_seconds: list[float] | None = None) -> LatencyStats:
    median, p99 = percentile(seconds, 50) * 1e6, percentile(seconds, 99) * 1e6
    in_calls = float(np.median(in_calls_seconds) * 1e6) if in_calls_seconds else None
    return LatencyStats(float(median), float(p99), len(seconds), in_calls)


def seed_assumption(miss_round_trips: int = 3, latency: LatencyModel | None = None) -> BackendTiming:
    """The seed's uniform tiers as a row: exact median and p99 of a hit, a query and a miss.

    A miss costs `miss_round_trips` cache round trips plus one query, as the simulated clock charges it.
    """
    model = latency if latency is not None else LatencyModel()
    cache, database = tuple(model.cache_ms), tuple(model.database_ms)

    def stats(*tiers) -> LatencyStats:
        path = ((1.0, tiers),)
        return LatencyStats(quantile(path, 0.5) * 1000, quantile(path, 0.99) * 1000, 0)

    return BackendTiming("seed's assumption", f"cache {_range_ms(cache)}", f"database {_range_ms(database)}",
                         hit=stats(cache), query=stats(database),
                         miss=stats(*(cache,) * miss_round_trips, database),
                         miss_round_trips=miss_round_trips, miss_db_queries=1)


def _range_ms(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g}-{bounds[1]:g} ms, uniform"


_TIMING_COLUMNS = (Column("backend", "<"), Column("hit p50", format=",.0f", width=9),
                   Column("hit p99", format=",.0f", width=9), Column("query p50", format=",.0f", width=10),
                   Column("query p99", format=",.0f", width=10), Column("miss p50", format=",.0f", width=9),
                   Column("miss p99", format=",.0f", width=9))


def format_timings(rows: Sequence[BackendTiming], seed: bool = True) -> str:
    """A fixed-width table of median and p99 in µs per backend, then the seed's assumption."""
    rows = list(rows)
    measured = [row for row in rows if row.unavailable is None]
    assumed = [seed_assumption(measured[0].miss_round_trips if measured else 3)] if seed else []
    cells = [*map(_timing_cells, rows)]
    if assumed:
        cells += [RULE, _timing_cells(assumed[0])]
    header, *lines = table_lines(_TIMING_COLUMNS, cells, rule="-")
    lines = [header + "   (µs)", *lines, "", *(f"{row.name}: {row.redis} + {row.database}" for row in rows + assumed)]
    return "\n".join(lines)


def _timing_cells(row: BackendTiming) -> tuple:
    """A measured row's cells; an unavailable backend's name then why (the table runs that on)."""
    if row.unavailable is not None:
        return row.name, f"unavailable: {row.unavailable}"
    return (row.name, row.hit.median_us, row.hit.p99_us, row.query.median_us, row.query.p99_us,
            row.miss.median_us, row.miss.p99_us)


# --- questions to the request log in DuckDB (Metrics.to_duckdb() makes the `requests` table) ---

_BY_TYPE = "GROUP BY GROUPING SETS ((data_type), ())"
_SEED_ORDER_LIST = f"list_position({list(DATA_TYPES)},\n                       data_type) NULLS LAST"
# each printed query's lines stay under 100 characters: it fits a laptop pane
_SEED_ORDER = f"ORDER BY grouping(data_type),\n         {_SEED_ORDER_LIST},\n         data_type"

HIT_RATIO = f"""
SELECT coalesce(data_type, 'overall') AS data_type,
       count(*) FILTER (WHERE outcome IN {READ_OUTCOMES!r}) AS reads,
       count(*) FILTER (WHERE outcome = 'hit') AS hits,
       round(coalesce(hits / nullif(reads, 0), 0.0), 4) AS hit_ratio
FROM requests
{_BY_TYPE}
{_SEED_ORDER}
"""

LATENCY_PERCENTILES = f"""
SELECT coalesce(data_type, 'overall') AS data_type,
       count(*) AS requests,
       round(quantile_cont(simulated_ms, 0.50), 2) AS p50_ms,
       round(quantile_cont(simulated_ms, 0.90), 2) AS p90_ms,
       round(quantile_cont(simulated_ms, 0.99), 2) AS p99_ms
FROM requests
{_BY_TYPE}
{_SEED_ORDER}
"""

QUERIES_SAVED = f"""
SELECT coalesce(data_type, 'overall') AS data_type,
       sum(db_queries) AS db_queries,
       count(*) FILTER (WHERE outcome = 'hit') AS queries_saved,
       sum(db_queries) + queries_saved AS queries_without_cache,
       round(coalesce(queries_saved / nullif(queries_without_cache, 0), 0.0), 4) AS fraction_saved
FROM requests
{_BY_TYPE}
{_SEED_ORDER}
"""

COST_PER_OUTCOME = f"""
SELECT data_type, outcome,
       count(*) AS requests,
       round(avg(round_trips), 2) AS round_trips_per_request,
       round(avg(db_queries), 2) AS db_queries_per_request,
       round(avg(simulated_ms), 2) AS avg_simulated_ms
FROM requests
GROUP BY data_type, outcome
ORDER BY {_SEED_ORDER_LIST},
         data_type, outcome
"""

QUESTIONS = MappingProxyType({
    "hit_ratio": HIT_RATIO,                      # per data type and overall: hits / reads
    "latency_percentiles": LATENCY_PERCENTILES,  # simulated p50 / p90 / p99 of every request
    "queries_saved": QUERIES_SAVED,              # each hit is one query a cacheless system would run
    "cost_per_outcome": COST_PER_OUTCOME,        # round trips, queries and simulated ms per outcome
})


def ask(con, name: str) -> list[dict]:
    """Run the question `name` (a key of QUESTIONS) on a connection holding the `requests` table."""
    import duckdb  # here only, as in Metrics.to_duckdb: it takes about 0.2 s to load

    if not isinstance(name, str) or name not in QUESTIONS:
        raise InvalidInput(f"unknown question {name!r}; ask one of {sorted(QUESTIONS)}")
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise InvalidInput("con must be a DuckDB connection, e.g. world.metrics.to_duckdb()")
    try:
        cursor = con.execute(QUESTIONS[name])
    except duckdb.CatalogException:
        raise InvalidInput("no `requests` table on this connection; call metrics.to_duckdb(con) first") from None
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
