"""The primer's "Why Redis?" speed claim: the same Zipf reads on an in-process LRU, a redis-server and a memcached.

    python benchmarks/why_redis.py [--keys 2000] [--reads 20000] [--repeats 3] [--seed 0]

Each repeat starts both servers afresh (throw-away processes on free loopback ports) and times every
read on its own; the table is the median over repeats of each backend's p50 and p99, wall-clock, with
each server's p50 as a multiple of the in-process one. The counts (hits, round trips) are checked to
be the same in every repeat. Needs redis-server and memcached on the PATH; leaves nothing running.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from whatsapp_cache.experiments import why_redis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=why_redis.KEYS)
    parser.add_argument("--reads", type=int, default=why_redis.READS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not why_redis.available():
        print("needs redis-server and memcached on the PATH (Debian: apt-get install redis-server memcached)")
        return 2
    runs = [why_redis.compare(args.keys, args.reads, seed=args.seed) for _ in range(args.repeats)]
    counts = {why_redis.describe_counts(rows) for rows in runs}
    assert len(counts) == 1, "counts differ between repeats"
    print(counts.pop())
    base = statistics.median(rows[0].p50_us for rows in runs)
    print(f"\nmedian of {args.repeats} repeats   p50 us   p99 us   p50 x in-process")
    for i, name in enumerate(row.name for row in runs[0]):
        p50 = statistics.median(rows[i].p50_us for rows in runs)
        p99 = statistics.median(rows[i].p99_us for rows in runs)
        print(f"{name:<22} {p50:>8.1f} {p99:>8.1f} {p50 / base:>17,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
