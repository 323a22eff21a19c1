"""Requests per second of simulate() against cachetools' cache of the same policy, on one Zipf trace.

Both replay the trace the same way (get; insert on a miss) and must count the same hits;
each time is the best of 3 runs with time.perf_counter. Asserts nothing: it prints.

    python benchmarks/policies_vs_cachetools.py [--requests 300000] [--keys 100000] [--alpha 1.0]
                                                [--size 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import cachetools
import numpy as np

from whatsapp_cache.eviction import replay, simulate

THEIRS = {"lru": cachetools.LRUCache, "lfu": cachetools.LFUCache, "fifo": cachetools.FIFOCache}


def zipf_trace(requests: int, keys: int, alpha: float, seed: int) -> list[int]:
    """`requests` draws of key ids 0..keys-1, id k with weight 1 / (k + 1) ** alpha."""
    weights = 1.0 / np.arange(1, keys + 1) ** alpha
    return np.random.default_rng(seed).choice(keys, size=requests, p=weights / weights.sum()).tolist()


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """The shortest of `repeats` timings of `run()`, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    trace = zipf_trace(args.requests, args.keys, args.alpha, args.seed)  # a list, given to both sides
    print(f"Zipf({args.alpha}) trace: {args.requests:,} requests over {args.keys:,} keys, "
          f"cache size {args.size:,}, seed {args.seed}; best of 3")
    print(f"{'policy':<7} {'hit ratio':>9} {'same hits':>9} {'ours req/s':>12} {'cachetools req/s':>16} "
          f"{'ours/cachetools':>15}")
    for policy, cache_class in THEIRS.items():
        ours = simulate(trace, policy, args.size)
        theirs_hits = replay(cache_class(args.size), trace)[0]
        ours_s = best_of(3, lambda policy=policy: simulate(trace, policy, args.size))
        theirs_s = best_of(3, lambda cache_class=cache_class: replay(cache_class(args.size), trace))
        print(f"{policy:<7} {ours.hit_ratio:>9.4f} {'yes' if ours.hits == theirs_hits else 'NO':>9} "
              f"{len(trace) / ours_s:>12,.0f} {len(trace) / theirs_s:>16,.0f} {theirs_s / ours_s:>14.2f}x")


if __name__ == "__main__":
    main()
