"""Chapter 07's measured table: a profile hit, its SELECT and a whole miss on the embedded default, live Redis + SQLite
and live Redis + PostgreSQL, the median of several runs.

    python benchmarks/backend_timings.py [--redis-url redis://127.0.0.1/11]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres] [--requests 1000] [--repeats 3] [--record]

The chapter's own cell times whatever backends the learner's machine has, so its output changes
from run to run and is not validated. The chapter quotes this table instead: each cell is the
median over the repeats of that backend's p50 or p99 (wall-clock µs; measure.measure_backends on
each backend in turn, every repeat). With --record the table, headed by the date and the server
versions, is stored as "backend timings" in data/lab_results.json, which the chapter prints; run
it on an idle machine. The World's tables are created in the given database and dropped after.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import statistics

import redis
import sqlalchemy

from whatsapp_cache.experiments import measure
from whatsapp_cache.lab import stored

STORED_NAME = "backend timings"


def backends(redis_url: str, database_url: str) -> list[measure.BackendSpec]:
    return [measure.BackendSpec("embedded"),
            measure.BackendSpec("live Redis + SQLite", redis_url, measure.SQLITE_IN_MEMORY),
            measure.BackendSpec("live Redis + PostgreSQL", redis_url, database_url)]


def median_rows(runs: list[list[measure.BackendTiming]]) -> list[measure.BackendTiming]:
    """Each backend's row with every latency figure the median over the runs (the counts are the first run's)."""
    rows = []
    for same_backend in zip(*runs):
        if any(row.unavailable for row in same_backend):
            raise SystemExit(f"{same_backend[0].name} was unavailable: "
                             f"{next(row.unavailable for row in same_backend if row.unavailable)}")
        kinds = {kind: median_stats([getattr(row, kind) for row in same_backend]) for kind in ("hit", "query", "miss")}
        rows.append(dataclasses.replace(same_backend[0], **kinds))
    return rows


def median_stats(stats: list[measure.LatencyStats]) -> measure.LatencyStats:
    return measure.LatencyStats(median_us=statistics.median(s.median_us for s in stats),
                                p99_us=statistics.median(s.p99_us for s in stats),
                                samples=sum(s.samples for s in stats))


def versions(redis_url: str, database_url: str) -> str:
    client = redis.Redis.from_url(redis_url)
    try:
        redis_version = client.info("server")["redis_version"]
    finally:
        client.close()
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect():
            pg_version = ".".join(map(str, engine.dialect.server_version_info))
    finally:
        engine.dispose()
    return f"Redis {redis_version} and PostgreSQL {pg_version} on loopback"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1/11", help="the live Redis (its own database)")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1/postgres")
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true", help=f"store the table as {STORED_NAME!r} for chapter 07")
    args = parser.parse_args(argv)
    specs = backends(args.redis_url, args.database_url)
    runs = [measure.measure_backends(specs, requests=args.requests, progress=True) for _ in range(args.repeats)]
    table = measure.format_timings(median_rows(runs))
    header = (f"Stored from benchmarks/backend_timings.py on {datetime.date.today():%Y-%m-%d}, a {os.cpu_count()}-core machine,\n"
              f"{versions(args.redis_url, args.database_url)}: the median of {args.repeats} runs "
              f"of {args.requests:,} requests each.")
    print(header, table, sep="\n")
    if args.record:
        stored.save(STORED_NAME, f"{header}\n{table}")
        print(f"\nstored as {STORED_NAME!r} in {stored.RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
