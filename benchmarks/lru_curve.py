"""Time the one-pass exact-LRU hit-ratio curve against replaying an LRU cache once per size.

    python benchmarks/lru_curve.py [--requests 1000000] [--keys 100000] [--alpha 1.0] [--seed 0]

Builds a Zipf(alpha) trace with numpy, computes the hit ratio of every cache size from 1 to the
number of distinct keys in one pass (stack distances), then replays an exact LRU cache (an
OrderedDict) separately at a handful of sizes spread evenly over that range, checks that both
agree, and extrapolates what replaying every size separately would cost.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from whatsapp_cache.eviction.curve import hit_ratio_curve, replay_lru_hits


def zipf_trace(requests: int, keys: int, alpha: float, seed: int) -> np.ndarray:
    """`requests` key ids in [0, keys): key of popularity rank r has probability ~ 1 / r**alpha.

    Inverse-CDF sampling: one uniform draw per request, looked up in the cumulative weights.
    Ranks are shuffled onto key ids, so the popular keys are not simply the small ids.
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, keys + 1, dtype=np.float64) ** alpha
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ranks = np.minimum(np.searchsorted(cdf, rng.random(requests), side="right"), keys - 1)
    return rng.permutation(keys)[ranks]


def positive_int(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=positive_int, default=1_000_000, help="trace length")
    parser.add_argument("--keys", type=positive_int, default=100_000, help="key population")
    parser.add_argument("--alpha", type=float, default=1.0, help="Zipf skew (0 = uniform)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the trace")
    parser.add_argument("--replays", type=positive_int, default=10,
                        help="number of sizes replayed one by one with an OrderedDict LRU")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds the one-pass curve may take; exit status 1 if slower")
    args = parser.parse_args(argv)
    if not np.isfinite(args.alpha) or args.alpha < 0:
        parser.error(f"--alpha must be a finite number >= 0, got {args.alpha}")

    started = time.perf_counter()
    trace = zipf_trace(args.requests, args.keys, args.alpha, args.seed)
    built = time.perf_counter() - started
    print(f"trace: {args.requests:,} requests over {args.keys:,} keys, Zipf alpha={args.alpha}, "
          f"seed={args.seed} (built in {built:.2f} s)")

    started = time.perf_counter()
    sizes, ratios = hit_ratio_curve(trace)
    one_pass = time.perf_counter() - started
    distinct = len(sizes)
    print(f"one-pass curve (stack distances): {distinct:,} sizes (1..{distinct:,} distinct keys) "
          f"in {one_pass:.3f} s")
    for fraction in (0.001, 0.01, 0.1, 1.0):
        size = max(1, round(fraction * distinct))
        print(f"    size {size:>8,} ({fraction:6.1%} of the keys): hit ratio {ratios[size - 1]:.4f}")

    replayed = np.unique(np.linspace(1, distinct, min(args.replays, distinct)).round().astype(np.int64))
    seconds = []
    print(f"replaying an exact LRU (OrderedDict) at {len(replayed)} sizes, one replay each:")
    for size in replayed.tolist():
        started = time.perf_counter()
        hits = replay_lru_hits(trace, size)
        seconds.append(time.perf_counter() - started)
        curve_hits = round(ratios[size - 1] * args.requests)
        if hits != curve_hits:
            print(f"MISMATCH at size {size}: replay {hits} hits, curve {curve_hits}")
            return 2
        print(f"    size {size:>8,}: {hits / args.requests:.4f} in {seconds[-1]:.3f} s (= curve)")
    measured = sum(seconds)
    # replay time varies with the size: interpolate it over every size, then add up
    every_size = float(np.interp(np.arange(1, distinct + 1), replayed, seconds).sum())
    print(f"replay, {len(replayed)} sizes measured: {measured:.2f} s "
          f"({measured / len(replayed):.3f} s per size)")
    print(f"replay, all {distinct:,} sizes (extrapolated): {every_size:,.0f} s "
          f"= {every_size / 3600:.1f} h")
    print(f"one pass: {one_pass:.3f} s; speed-up over replaying every size: "
          f"{every_size / max(one_pass, 1e-9):,.0f}x (over the {len(replayed)} replays alone: "
          f"{measured / max(one_pass, 1e-9):.1f}x)")
    if one_pass > args.budget:
        print(f"SLOW: the one-pass curve took {one_pass:.2f} s, over the {args.budget} s budget")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
