"""Fill N profiles one by one (Profiles.get) versus pipelined (Profiles.get_many), on fakeredis and a live Redis.

    python benchmarks/pipelined_fills.py [--profiles 200] [--repeats 7] [--redis-url redis://127.0.0.1:6379/11]

Each repeat empties the N profile entries, then fills them both ways (which way goes first
alternates), and also reads them back once cached; the printed times are medians of the
repeats, wall-clock. The database is SQLite in memory (sqlite://, no network) for both
backends, so what differs between the two ways is mostly Redis round trips: 3 per profile one
by one against 3 for the whole batch. The one-by-one way still runs N small queries against
one; their cost is timed on its own and printed too. Keys live under their own namespace and
are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from tqdm import tqdm

from _live import answers

from whatsapp_cache import World
from whatsapp_cache.config import DATABASE_URL_ENV, REDIS_URL_ENV
from whatsapp_cache.datatypes.profiles import MAX_BATCH
from whatsapp_cache.experiments.wire import count_round_trips

NAMESPACE = "bench_fills"


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def empty(world: World, ids: list[str]) -> None:
    world.redis.delete(*(world.keys.profile(user_id).data for user_id in ids))


def one_by_one(world: World, ids: list[str]) -> None:
    for user_id in ids:
        world.profiles.get(user_id)


def pipelined(world: World, ids: list[str]) -> None:
    world.profiles.get_many(ids)


def queries_one_by_one(world: World, ids: list[str]) -> None:
    for user_id in ids:
        world.repo.user(user_id)


def run(world: World, ids: list[str], repeats: int, label: str) -> dict[str, list[float]]:
    """Milliseconds of each way, repeats interleaved."""
    times: dict[str, list[float]] = {name: [] for name in ("fill 1x1", "fill batch", "hit 1x1", "hit batch",
                                                           "db 1x1", "db batch")}
    ways = [("1x1", one_by_one), ("batch", pipelined)]
    for repeat in tqdm(range(repeats), desc=label, leave=False):
        for name, way in ways if repeat % 2 == 0 else ways[::-1]:
            empty(world, ids)
            times[f"fill {name}"].append(timed(lambda: way(world, ids)))
            times[f"hit {name}"].append(timed(lambda: way(world, ids)))
        times["db 1x1"].append(timed(lambda: queries_one_by_one(world, ids)))
        times["db batch"].append(timed(lambda: world.repo.users(ids)))
    return times


def wire_counts(world: World, ids: list[str]) -> tuple[int, int]:
    """Round trips of each way's fill, counted on the wire."""
    counted = []
    for way in (one_by_one, pipelined):
        empty(world, ids)
        with count_round_trips(world.redis) as wire:
            way(world, ids)
        counted.append(wire.round_trips)
    return counted[0], counted[1]


def report(label: str, times: dict[str, list[float]], trips: tuple[int, int], n: int) -> None:
    m = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{label}, database SQLite in memory")
    print(f"  {'':<26} {'one by one':>12} {'get_many':>12} {'ratio':>7}")
    print(f"  {'round trips (counted)':<26} {trips[0]:>12,} {trips[1]:>12,} {trips[0] / trips[1]:>6.0f}x")
    for what, key in (("fill (all misses), ms", "fill"), ("read (all hits), ms", "hit"),
                      ("database part only, ms", "db")):
        one, batch = m[f"{key} 1x1"], m[f"{key} batch"]
        print(f"  {what:<26} {one:>12.2f} {batch:>12.2f} {one / batch:>6.1f}x")
    one, batch = m["fill 1x1"] - m["db 1x1"], m["fill batch"] - m["db batch"]
    print(f"  {'fill minus database, ms':<26} {one:>12.2f} {batch:>12.2f} {one / batch:>6.1f}x")
    print(f"  per profile filled: {m['fill 1x1'] / n * 1000:.0f} us one by one, "
          f"{m['fill batch'] / n * 1000:.0f} us pipelined")


def measure(redis_url: str | None, n: int, repeats: int) -> None:
    world = World(redis_url, None, dataset="small", namespace=NAMESPACE)
    label = world.config.redis_label
    try:
        ids = [row["id"] for row in world.dataset.tables["users"][:n]]
        world.redis.ping()
        trips = wire_counts(world, ids)
        report(label, run(world, ids, repeats, label), trips, n)
    finally:
        world.flush_cache(keep_queue=False)
        world.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=200, help=f"profiles to fill (1-{MAX_BATCH})")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (medians are printed)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="the live Redis (its own database)")
    args = parser.parse_args(argv)
    if not 1 <= args.profiles <= MAX_BATCH or args.repeats < 1:
        parser.error(f"--profiles must be 1-{MAX_BATCH} and --repeats at least 1")
    for name in (REDIS_URL_ENV, DATABASE_URL_ENV):  # both backends are chosen here, not by the environment
        os.environ.pop(name, None)
    started = time.perf_counter()
    print(f"filling {args.profiles} profiles: Profiles.get one by one vs Profiles.get_many, "
          f"median of {args.repeats} interleaved repeats")
    measure(None, args.profiles, args.repeats)
    if answers(args.redis_url):
        measure(args.redis_url, args.profiles, args.repeats)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
