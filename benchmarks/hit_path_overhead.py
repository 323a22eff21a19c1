"""What the library adds to a cache hit: Profiles.get beside a bare redis-py read of the same key.

Both sides read the same profile hash on the same live Redis, one command and one round trip
each; the library also validates the id, checks the marker, decodes and type-checks the
fields, builds a Profile, and records the request in its metrics. It reaches the socket
through HitReader (a connection held per thread, no per-call pool checkout and hooks), so a
third column shows that same path driven by hand: the library's own overhead on equal terms.
The candidates run in alternating batches (drift in the machine hits all alike); each ratio
is the median of the per-round ratios. Targets: library / bare redis-py at most 1.10, and the
library's own work (the reply served from memory) at most 8 us per hit. That 8 us was set on the
machine where the code the issue measured (BASELINE) took 14 us, so the own work is also measured
at BASELINE side by side (each side in its own subprocess, in turns) and held to 8/14 of it: the
same target on whatever machine runs this.

    python benchmarks/hit_path_overhead.py [--redis-url redis://127.0.0.1:6379/14] [--rounds 60]
                                           [--baseline c183f42] [--own-rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import redis
from tqdm import tqdm

from _baseline import code_roots, run_child

TARGET = 1.10
OWN_WORK_TARGET_US = 8.0
BASELINE = "c183f42"  # the hit path as issue 13 measured it: 14 us of own work per hit on its machine
BASELINE_OWN_WORK_US = 14.0
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


def library_cpu_us(world, user_id: str, key: str, calls: int = 20_000) -> float:
    """The library's own work per hit, with the Redis reply served from memory instead of the wire."""
    reply = world.redis.hgetall(key)
    reader = world.reader
    original = reader.read
    reader.read = lambda _command, _key: dict(reply)
    try:
        return per_call_us(lambda: world.profiles.get(user_id), calls)
    finally:
        reader.read = original


def own_work_child(redis_url: str, calls: int) -> None:
    """In a subprocess: the own work per hit of whichever whatsapp_cache PYTHONPATH names; print JSON."""
    from whatsapp_cache import World

    with World(redis_url, "sqlite://", dataset="tiny", namespace="benchhit") as world:
        user_id = world.dataset.tables["users"][0]["id"]
        world.profiles.get(user_id)
        own_us = library_cpu_us(world, user_id, world.keys.profile(user_id).data, calls)
        world.flush_cache(keep_queue=False)
    print(json.dumps({"own_us": own_us}))


def own_work_side_by_side(redis_url: str, baseline: str, rounds: int, calls: int) -> dict[str, list[float]]:
    """HEAD's and the baseline's own work per hit, one subprocess each per round, the order reversed every round."""
    with code_roots([baseline], "hit-path-") as roots:
        names = list(roots)
        samples = {name: [] for name in names}
        for index in tqdm(range(rounds), desc="own work, side by side", unit="round", file=sys.stderr):
            for name in names if index % 2 == 0 else reversed(names):
                result = run_child(__file__, roots[name], ["--redis-url", redis_url, "--calls", str(calls)])
                samples[name].append(result["own_us"])
    return samples


def report_own_work(samples: dict[str, list[float]], baseline: str) -> bool:
    head, base = (statistics.median(samples[name]) for name in ("HEAD", baseline))
    ratio, target = head / base, OWN_WORK_TARGET_US / BASELINE_OWN_WORK_US
    print(f"own work side by side, median of {len(samples['HEAD'])} subprocess runs each: HEAD {head:.1f} us, "
          f"{baseline} {base:.1f} us per hit")
    print(f"own work HEAD / {baseline}: {ratio:.3f}  (target <= {OWN_WORK_TARGET_US:g}/{BASELINE_OWN_WORK_US:g} = "
          f"{target:.3f}: {OWN_WORK_TARGET_US:g} us where {baseline} took {BASELINE_OWN_WORK_US:g}; "
          f"{target * base:.1f} us on this machine)")
    met = ratio <= target
    print("own work within target" if met else "own work ABOVE TARGET")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--own-rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return own_work_child(args.redis_url, args.calls)
    ratio_met = overhead_ratio(args)
    own_met = report_own_work(own_work_side_by_side(args.redis_url, args.baseline, args.own_rounds, args.calls),
                              args.baseline)
    return 0 if ratio_met and own_met else 1


def overhead_ratio(args) -> bool:
    """Library, bare redis-py and the same path by hand on the live Redis, in alternating batches."""
    from whatsapp_cache import World
    from whatsapp_cache.backends import HitReader

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
            cpu = library_cpu_us(world, user_id, key, args.calls)
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
    print(f"  library's own work      {cpu:7.1f} us per hit (reply served from memory, this process)")
    print(f"library / the same path by hand: {same_path:.3f}")
    print(f"overhead ratio (library / bare redis-py): {ratio:.3f}  (middle half of rounds {low:.3f}-{high:.3f}; "
          f"target <= {TARGET})")
    print("within target" if ratio <= TARGET else "ABOVE TARGET")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.exit(main())
