"""Count the Redis round trips of every claimed operation, on fakeredis and on a live Redis, side by side.

    python benchmarks/round_trips.py [--redis-url redis://127.0.0.1:6379/11] [--dataset small]

Round trips are counted on the wire (whatsapp_cache.experiments.wire.count_round_trips: one network
write of a command or a whole pipeline is one round trip), not taken from the library's own Trace,
which is printed beside them. The claims come from whatsapp_cache.experiments.claims.CLAIMED_ROUND_TRIPS.
Each World keeps its keys under its own namespace (deleted at the end) and uses SQLite in
memory as its database. Exit status 1 if any operation takes other than what is claimed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _live import answers

from whatsapp_cache import World
from whatsapp_cache.config import DATABASE_URL_ENV, REDIS_URL_ENV
from whatsapp_cache.experiments.claims import BATCH, CLAIMED_ROUND_TRIPS, Measured, measure_claims

NAMESPACE = "bench_rt"


def measure_on(redis_url: str | None, dataset: str) -> list[Measured] | None:
    """Every claim counted on one backend; None if that Redis does not answer."""
    if redis_url is not None and not answers(redis_url):
        return None
    world = World(redis_url, None, dataset=dataset, namespace=NAMESPACE)
    try:
        return measure_claims(world)
    finally:
        world.flush_cache(keep_queue=False)
        world.close()


def _traced(embedded: Measured, live: Measured | None) -> str:
    values = {m.traced for m in (embedded, live) if m is not None}
    if values == {None}:
        return "-"
    return "/".join(str(v) for v in sorted(values, key=str))


def print_table(embedded: list[Measured], live: list[Measured] | None) -> int:
    """The table, then how many operations hold on every backend; return that count."""
    width = max(len(name) for name in CLAIMED_ROUND_TRIPS)
    print(f"{'operation':<{width}}  {'claimed':>7}  {'fakeredis':>9}  {'live':>5}  {'Trace':>5}  what the round trips carry")
    print("-" * (width + 46))
    held = 0
    for index, mine in enumerate(embedded):
        other = live[index] if live else None
        ok = mine.holds and (other is None or other.holds)
        held += ok
        live_text = str(other.counted) if other else "-"
        print(f"{mine.operation:<{width}}  {mine.claimed:>7}  {mine.counted:>9}  {live_text:>5}  "
              f"{_traced(mine, other):>5}  {mine.covers}{'' if ok else '   <-- NOT AS CLAIMED'}")
    print("-" * (width + 46))
    print("Trace: the round trips the library's own counter recorded (one number: the same on both backends);")
    print("'-': that row counts part of a request (after the database answered), the Trace whole requests.")
    return held


def print_sent(results: list[Measured]) -> None:
    print("\nwhat went out, round trip by round trip (fakeredis; ';' separates round trips):")
    for m in results:
        print(f"  {m.operation}: {m.sent}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="the live Redis (its own database)")
    parser.add_argument("--dataset", default="small", choices=["tiny", "small"], help="synthetic data set to load")
    args = parser.parse_args(argv)
    for name in (REDIS_URL_ENV, DATABASE_URL_ENV):  # both Worlds are chosen here, not by the environment
        os.environ.pop(name, None)
    started = time.perf_counter()
    embedded = measure_on(None, args.dataset)
    live = measure_on(args.redis_url, args.dataset)
    print(f"Redis round trips per operation, counted on the wire ({args.dataset} data set, "
          f"fakeredis and {args.redis_url if live else 'no live Redis'}; database: SQLite in memory)\n")
    held = print_table(embedded, live)
    print_sent(embedded)
    by_name = {m.operation: m for m in embedded}
    one_by_one = by_name[f"profiles.get one by one x{BATCH} (misses)"].counted
    pipelined = by_name[f"profiles.get_many({BATCH}) (misses)"].counted
    print(f"\nfilling {BATCH} profiles: {one_by_one} round trips one by one vs {pipelined} pipelined "
          f"= {one_by_one / pipelined:.0f}x fewer")
    backends = "fakeredis and live Redis" if live else "fakeredis only (live Redis unavailable)"
    print(f"{held}/{len(embedded)} operations take the round trips claimed ({backends}; "
          f"{time.perf_counter() - started:.1f} s)")
    return 0 if held == len(embedded) and live else 1


if __name__ == "__main__":
    sys.exit(main())
