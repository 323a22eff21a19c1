"""How long a World on the embedded default takes to build: the first in a process, and the ones after.

The first World of a size and seed generates the data set and inserts it into SQLite; later
ones copy the kept image (db/image.py). Both are timed in one run, beside the target for the
later ones (under 0.3 s after the first). Prints seconds and ratios; asserts nothing.

    python benchmarks/world_build.py [--dataset small] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from whatsapp_cache import World
from whatsapp_cache.db import image

TARGET_LATER_S = 0.3


def build_seconds(dataset: str) -> float:
    started = time.perf_counter()
    World(dataset=dataset).close()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="small")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    World(dataset=None).close()  # imports and the first connection are not what is measured
    image.forget_all()
    first = build_seconds(args.dataset)
    later = statistics.median(build_seconds(args.dataset) for _ in range(args.repeats))
    print(f"World(dataset={args.dataset!r}) on the embedded default; later = median of {args.repeats}")
    print(f"{'build':<8} {'seconds':>8} {'/ target':>9} {'/ first':>8}")
    print(f"{'first':<8} {first:>8.3f} {'':>9} {1:>7.2f}x")
    print(f"{'later':<8} {later:>8.3f} {later / TARGET_LATER_S:>8.2f}x {later / first:>7.3f}x"
          f"   target {TARGET_LATER_S} s: {'met' if later <= TARGET_LATER_S else 'NOT met'}")


if __name__ == "__main__":
    main()
