"""How fast the embedded replay engine runs: the tour's workload at HEAD beside the same replay at baseline commits.

The engine under the tour, the explorers, compare and measure is workload.run on a World on
the embedded default (fakeredis + SQLite in memory). Each baseline commit is checked out into
a temporary `git worktree --detach` (removed afterwards); every side replays the same seeded
workload in its own subprocess (PYTHONPATH picks the code), in turns, and the median of the
rounds counts. Each subprocess also times a bare fakeredis GET round trip, in batches just
before and just after its replay, so a replay's cost per action reads in units of that
command too (machine load hits both alike), and in CPU time (process_time: what a loaded
machine's waits for a core do not inflate).
Baselines: 21c86f8 (issue 13's reference, whose library did other work: other counts) and
2e2b581 (the commit before the speed-up: the replay is deterministic, so its counts and
simulated latency must equal HEAD's). Target (issue 13): at least 4x a baseline's actions
per second. Prints; asserts nothing.

It also prints the ceiling on that speed-up. Instrumented replays at HEAD (as many as the
rounds; medians) time what no change to the library removes while it sends the same commands
and queries: fakeredis' server executing them (scripts and transactions included), sqlite3
executing the queries, redis-py's client work on a lone GET (the least a round trip costs),
SQLAlchemy's and the Repository's on a user's row by id (the least a query costs), and how much
of the scripts' time is Lua's own (what Python twins of the scripts could save).
A baseline's time per action over such a floor is the most any change could gain, were all
the rest (the library, SQLAlchemy, the workload) free.

    python benchmarks/replay_speed.py [--baseline 21c86f8 --baseline 2e2b581] [--actions 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

from _baseline import code_roots, run_child

BASELINES = ("21c86f8", "2e2b581")
TARGET_SPEEDUP = 4.0
GET_BATCH = 2_000
GET_BATCHES = 5  # before the replay and again after it; the median of all counts


def child(actions: int, seed: int, floor: bool = False) -> None:
    """In a subprocess: time one replay and bare GETs with whichever whatsapp_cache PYTHONPATH names; print JSON."""
    import fakeredis

    from whatsapp_cache import World
    from whatsapp_cache.experiments.workload import WorkloadSpec, run

    spec = WorkloadSpec(actions=actions, seed=seed)
    get = GetTimer(fakeredis)
    floor_ns = FloorTimer() if floor else None
    with World(None, None, seed=seed, dataset="small") as world:  # the parent cleared the URL variables
        world.flush_cache()
        get.batches(GET_BATCHES)
        with floor_ns or contextlib.nullcontext():
            started, cpu_started = time.perf_counter(), time.process_time()
            overall = run(world, spec)[-1]
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            if floor_ns is not None:
                time_least_calls(floor_ns, world)
        get.batches(GET_BATCHES)
    figures = {name: getattr(overall, name) for name in
               ("requests", "hits", "misses", "writes", "db_queries", "round_trips", "simulated_ms")}
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "get_us": statistics.median(get.samples), "figures": figures,
                      "floor_ns": floor_ns.spent if floor_ns else None, "per_call_ns": floor_ns.per_call if floor_ns else None,
                      "module": str(Path(sys.modules["whatsapp_cache"].__file__).parent.parent)}))


class FloorTimer:
    """Nanoseconds spent in fakeredis' server and in sqlite3's execute during a replay; the least a round trip
    and a query cost outside them.

    Wraps fakeredis' BaseFakeSocket._process_command (every command a client sends, a script's
    or a transaction's inner commands inside it: outermost calls count), its eval (a script,
    EVALSHA's too) and the _run_command calls made inside one (what a script written in Python
    would still run), and SQLAlchemy's DefaultDialect.do_execute* (the DB-API cursor call and
    nothing of SQLAlchemy around it). Generous to the target: row fetching and SQLAlchemy's own
    work count as removable.
    """

    def __init__(self):
        self.spent = {"server": 0, "database": 0, "scripts": 0, "script_commands": 0}  # over the replay
        self.per_call: dict[str, float] = {}  # a lone call's cost outside the server or the database
        self._active = dict.fromkeys(self.spent, 0)
        self._patched: list[tuple] = []  # (class, name, original)

    def __enter__(self) -> "FloorTimer":
        from fakeredis._socket._base import BaseFakeSocket
        from fakeredis.commands_mixins.scripting_mixin import ScriptingCommandsMixin
        from sqlalchemy.engine.default import DefaultDialect

        self._patch(BaseFakeSocket, "_process_command", "server")
        self._patch(ScriptingCommandsMixin, "eval", "scripts")
        self._patch(BaseFakeSocket, "_run_command", "script_commands", inside="scripts")
        for name in ("do_execute", "do_executemany", "do_execute_no_params"):
            self._patch(DefaultDialect, name, "database")
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)

    def time_outside(self, name: str, bucket: str, call, count: int) -> None:
        """per_call[name]: the nanoseconds one `call()` takes beyond its time in `bucket` (left out of the replay's)."""
        before, started = self.spent[bucket], time.perf_counter_ns()
        for _ in range(count):
            call()
        elapsed, inside = time.perf_counter_ns() - started, self.spent[bucket] - before
        self.spent[bucket] = before
        self.per_call[name] = (elapsed - inside) / count

    def _patch(self, owner, name: str, bucket: str, inside: str | None = None) -> None:
        original = getattr(owner, name)
        self._patched.append((owner, name, original))
        setattr(owner, name, self._timed(original, bucket, inside))

    def _timed(self, function, bucket: str, inside: str | None):
        """`function`, its time added to `bucket`: every call within an `inside` one, else the outermost calls."""
        active = self._active

        def timed(*args, **kwargs):
            counts = active[inside] > 0 if inside is not None else active[bucket] == 0
            active[bucket] += 1
            started = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                active[bucket] -= 1
                if counts:
                    self.spent[bucket] += time.perf_counter_ns() - started
        return timed


class GetTimer:
    """Microseconds per GET round trip on a plain fakeredis client (the unit of cost), in batches."""

    def __init__(self, fakeredis):
        self.client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        self.client.set("key", "value")
        self.samples: list[float] = []
        self.batches(1)  # warm-up, dropped
        self.samples.clear()

    def batches(self, count: int) -> None:
        get = self.client.get
        for _ in range(count):
            started = time.perf_counter_ns()
            for _ in range(GET_BATCH):
                get("key")
            self.samples.append((time.perf_counter_ns() - started) / GET_BATCH / 1000)


def time_least_calls(floor: FloorTimer, world) -> None:
    """The replay's own client on a lone GET (its server time taken out) and the library's cheapest query, a
    user's row by primary key with its statement prepared (sqlite3's time taken out)."""
    world.redis.set("replay-speed:floor", "value")
    floor.time_outside("round_trip", "server", lambda: world.redis.get("replay-speed:floor"), 5 * GET_BATCH)
    world.redis.delete("replay-speed:floor")
    user_id = world.dataset.tables["users"][0]["id"]
    floor.time_outside("query", "database", lambda: world.repo.user(user_id), GET_BATCH)


def replay(code_root: Path, actions: int, seed: int, floor: bool = False) -> dict:
    """One replay in a subprocess whose whatsapp_cache comes from `code_root` (instrumented if `floor`)."""
    return run_child(__file__, code_root, ["--actions", str(actions), "--seed", str(seed)] + ["--floor"] * floor)


def side_by_side(roots: dict[str, Path], rounds: int, actions: int, seed: int) -> dict[str, list[dict]]:
    """Every side once a round, the order reversed every other round."""
    names = list(roots)
    runs = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            runs[name].append(replay(roots[name], actions, seed))
            print(f"  round {index + 1}: {name:<8} {runs[name][-1]['seconds']:6.2f} s", file=sys.stderr, flush=True)
    return runs


def median_floor(results: list[dict]) -> dict:
    """The instrumented replays' figures, each time the median over the runs."""
    return {"seconds": statistics.median(r["seconds"] for r in results), "figures": results[0]["figures"],
            **{part: {name: statistics.median(r[part][name] for r in results) for name in results[0][part]}
               for part in ("floor_ns", "per_call_ns")}}


def report(runs: dict[str, list[dict]], actions: int, floor: dict) -> None:
    rows = {}
    for name, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        cpu_us = statistics.median(r["cpu_seconds"] for r in results) / actions * 1e6
        get_us = statistics.median(r["get_us"] for r in results)
        rows[name] = (seconds, actions / seconds, seconds / actions * 1e6, cpu_us, get_us)
    print(f"replay of {actions:,} tour actions on the embedded default; median of {len(runs['HEAD'])} runs each, in turns")
    print(f"{'code':<9} {'seconds':>8} {'actions/s':>10} {'us/action':>10} {'CPU us':>7} {'GET us':>7} {'GETs/action':>12} "
          f"{'round trips':>12} {'db queries':>11} {'sim ms':>10}")
    for name, (seconds, rate, per_action, cpu_us, get_us) in rows.items():
        figures = runs[name][0]["figures"]
        print(f"{name:<9} {seconds:>8.3f} {rate:>10,.0f} {per_action:>10.1f} {cpu_us:>7.1f} {get_us:>7.1f} "
              f"{per_action / get_us:>12.1f} {figures['round_trips']:>12,} {figures['db_queries']:>11,} "
              f"{figures['simulated_ms']:>10,.0f}")
    head = rows["HEAD"]
    for name in list(rows)[1:]:
        speedups = {"actions/s": head[1] / rows[name][1], "CPU time": rows[name][3] / head[3],
                    "bare-GET units": (rows[name][2] / rows[name][4]) / (head[2] / head[4])}
        same = all(r["figures"] == runs["HEAD"][0]["figures"] for r in runs["HEAD"] + runs[name])
        print(f"HEAD / {name}: " + ", ".join(f"{value:.2f}x in {unit}" for unit, value in speedups.items()) +
              f"   target {TARGET_SPEEDUP:g}x: {'met' if min(speedups.values()) >= TARGET_SPEEDUP else 'NOT met'}"
              f"   same counts and simulated latency: {'yes' if same else 'no'}")
    spent = {name: ns / actions / 1000 for name, ns in floor["floor_ns"].items()}
    trips, queries = (floor["figures"][name] / actions for name in ("round_trips", "db_queries"))
    client_us, query_us = (floor["per_call_ns"][name] / 1000 for name in ("round_trip", "query"))
    lua_us = spent["scripts"] - spent["script_commands"]
    served = spent["server"] + spent["database"]
    floors = {"fakeredis' server and sqlite3": served,
              "+ redis-py's least client work a round trip": served + trips * client_us,
              "+ the cheapest query's SQLAlchemy work a query": served + trips * client_us + queries * query_us,
              "the same, scripts' Lua free": served + trips * client_us + queries * query_us - lua_us}
    print(f"floor at HEAD, median of instrumented replays of {floor['seconds'] / actions * 1e6:.1f} us an action: "
          f"fakeredis' server {spent['server']:.1f} us (scripts {spent['scripts']:.1f}, of it Lua's own {lua_us:.1f}) "
          f"+ sqlite3 {spent['database']:.1f} us; {trips:.2f} round trips x {client_us:.1f} us of client work on a lone GET; "
          f"{queries:.2f} queries x {query_us:.1f} us of SQLAlchemy and Repository work on a user by id")
    for name in list(rows)[1:]:
        print(f"ceiling against {name} (target {TARGET_SPEEDUP:g}x), were all else free:")
        for what, us in floors.items():
            print(f"  {rows[name][2] / us:5.2f}x  {what} ({us:.1f} us an action)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="append", help=f"a commit to compare with (default {', '.join(BASELINES)})")
    parser.add_argument("--actions", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.actions, args.seed, args.floor)
    with code_roots(args.baseline or BASELINES, "replay-speed-") as roots:
        runs = side_by_side(roots, args.rounds, args.actions, args.seed)
        floor = median_floor([replay(roots["HEAD"], args.actions, args.seed, floor=True) for _ in range(args.rounds)])
    for name, results in runs.items():
        print(f"{name}: whatsapp_cache from {results[0]['module']}", file=sys.stderr)
    report(runs, args.actions, floor)


if __name__ == "__main__":
    main()
