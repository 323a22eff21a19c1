"""What the library adds to a cache hit: Profiles.get beside a bare redis-py read of the same key.

Both sides read the same profile hash on the same live Redis, one command and one round trip
each; the library also validates the id, checks the marker, decodes and type-checks the
fields, builds a Profile, and records the request in its metrics. It reaches the socket
through HitReader (a connection held per thread, no per-call pool checkout and hooks), so a
third column shows that same path driven by hand: the library's own overhead on equal terms.
The candidates run in alternating batches (drift in the machine hits all alike); each ratio
is the median of the per-round ratios. Targets: library / bare redis-py at most 1.10, and the
library's own work (the reply served from memory) at most 8 us per hit.

    python benchmarks/hit_path_overhead.py [--redis-url redis://127.0.0.1:6379/14] [--rounds 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import redis
from tqdm import tqdm

from whatsapp_cache import World
from whatsapp_cache.backends import HitReader

TARGET = 1.10
OWN_WORK_TARGET_US = 8.0
DEFAULT_URL = os.environ.get("WHATSAPP_CACHE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def per_call_us(call, calls: int) -> float:
    """Mean microseconds per call over one batch."""
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - started) / calls / 1000


def side_by_side(calls: dict, rounds: int, batch: int) -> dict[str, list[float]]:
    """Alternate batches of every candidate, reversing the order each round."""
    names = list(calls)
    for name in names:  # warm connections, scripts and caches
        per_call_us(calls[name], batch)
    samples = {name: [] for name in names}
    for index in tqdm(range(rounds), desc="rounds", unit="round", file=sys.stderr):
        for name in names if index % 2 == 0 else reversed(names):
            samples[name].append(per_call_us(calls[name], batch))
    return samples


def median_ratio(numerator: list[float], denominator: list[float]) -> tuple[float, float, float]:
    """Median of the per-round ratios, with the quartiles around it."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    quartiles = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), quartiles[0], quartiles[2]


def library_cpu_us(world: World, user_id: str, key: str, calls: int = 20_000) -> float:
    """The library's own work per hit, with the Redis reply served from memory instead of the wire."""
    reply = world.redis.hgetall(key)
    reader = world.reader
    original = reader.read
    reader.read = lambda _command, _key: dict(reply)
    try:
        return per_call_us(lambda: world.profiles.get(user_id), calls)
    finally:
        reader.read = original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args(argv)

    with World(args.redis_url, "sqlite://", dataset="tiny", namespace="benchhit") as world:
        user_id = world.dataset.tables["users"][0]["id"]
        world.profiles.get(user_id)  # the miss that fills the entry; every call below is a hit
        key = world.keys.profile(user_id).data
        bare = redis.Redis.from_url(args.redis_url, decode_responses=True)
        try:
            by_hand = HitReader(bare)
            samples = side_by_side({"bare redis-py HGETALL": lambda: bare.hgetall(key),
                                    "HitReader by hand": lambda: by_hand.read("HGETALL", key),
                                    "library Profiles.get": lambda: world.profiles.get(user_id)},
                                   args.rounds, args.batch)
            by_hand.close()
            cpu = library_cpu_us(world, user_id, key)
            hits = world.metrics.of("profiles").hits
        finally:
            bare.close()
            world.flush_cache(keep_queue=False)

    bare_us, by_hand_us, library_us = samples.values()
    ratio, low, high = median_ratio(library_us, bare_us)
    same_path, _, _ = median_ratio(library_us, by_hand_us)
    print(f"live Redis {world.config.redis_label}, {args.rounds} rounds x {args.batch} calls each, "
          f"{hits:,} library hits")
    for name, values in samples.items():
        print(f"  {name:<24} median {statistics.median(values):7.1f} us per call")
    print(f"  library's own work      {cpu:7.1f} us per hit (reply served from memory; "
          f"{cpu / OWN_WORK_TARGET_US:.2f}x the {OWN_WORK_TARGET_US:g} us target)")
    print(f"library / the same path by hand: {same_path:.3f}")
    print(f"overhead ratio (library / bare redis-py): {ratio:.3f}  (middle half of rounds {low:.3f}-{high:.3f}; "
          f"target <= {TARGET})")
    print("within target" if ratio <= TARGET else "ABOVE TARGET")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
