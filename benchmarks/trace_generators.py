"""How fast the seeded trace generators draw a million requests, beside the obvious numpy draw.

The question the old test asked ("a million Zipf requests well under a second"), measured here
instead: each generator of eviction.workloads draws `--requests` keys over `--keys` ids, beside
numpy's `Generator.choice(keys, p=weights)`, the straightforward way to draw the same bounded
Zipf. Each time is the best of 3 runs (time.perf_counter). Prints seconds, the ratio to the
target and to numpy's choice; asserts nothing.

    python benchmarks/trace_generators.py [--requests 1000000] [--keys 100000] [--alpha 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from whatsapp_cache.eviction.workloads import hotspot, uniform, zipf

TARGET_S = 1.0  # per generator call, at the default million requests


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """The shortest of `repeats` timings of `run()`, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def numpy_choice(keys: int, requests: int, alpha: float, seed: int) -> np.ndarray:
    """The same bounded Zipf drawn with numpy's choice and explicit probabilities."""
    weights = 1.0 / np.arange(1, keys + 1, dtype=np.float64) ** alpha
    return np.random.default_rng(seed).choice(keys, size=requests, p=weights / weights.sum())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n, keys, alpha, seed = args.requests, args.keys, args.alpha, args.seed

    candidates = {
        "zipf": lambda: zipf(keys, n, alpha, seed),
        "uniform": lambda: uniform(keys, n, seed),
        "hotspot": lambda: hotspot(keys, n, seed=seed),
        "numpy choice (Zipf)": lambda: numpy_choice(keys, n, alpha, seed),
    }
    print(f"{n:,} requests over {keys:,} keys, Zipf alpha {alpha}, seed {seed}; best of 3; "
          f"target {TARGET_S:g} s a call")
    baseline = best_of(3, candidates["numpy choice (Zipf)"])
    print(f"{'generator':<20} {'seconds':>8} {'requests/s':>13} {'/ target':>9} {'/ numpy choice':>15}")
    for name, draw in candidates.items():
        seconds = baseline if name.startswith("numpy") else best_of(3, draw)
        print(f"{name:<20} {seconds:>8.3f} {n / seconds:>13,.0f} {seconds / TARGET_S:>8.2f}x "
              f"{seconds / baseline:>14.2f}x")


if __name__ == "__main__":
    main()
