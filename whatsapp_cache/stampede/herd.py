"""A thundering herd on one hot key: real readers, real time, counted database loads.

    prefill value (expires at +ttl)
    readers x N: loop { strategy.get(key, load) ; sleep think_ms }   until expiries*ttl + ttl/2
    load(): sleep load_ms (the database query), logged as load_start / load_end

Each reader is a thread with its own Strategy (own seeded Random) on SystemClock; with
`processes=P` on a live Redis the readers are split over P processes, which is what app
servers are. Everything is bounded: the run ends at its deadline (or, on a machine so busy that
no reader got to read after the last expiry by then, at the first such read, at most a grace
period later), each get() is bounded by the strategy, and threads still running after a grace
period are reported as stuck.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import fakeredis
import redis

from ..clock import SystemClock
from ..errors import InvalidInput
from ..keys import KeySchema
from . import make_strategy

GRACE_S = 5.0


@dataclass
class HerdResult:
    """What a herd run measured; `timeline` holds (reader, event, ms since start) for plotting."""

    strategy: str
    backend: str
    readers: int
    processes: int
    expiries: int
    duration_ms: float
    reads: int = 0
    loads: int = 0
    errors: int = 0
    stuck: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    wait_ms: list[int] = field(default_factory=list)
    timeline: list[tuple[str, str, float]] = field(default_factory=list, repr=False)

    @property
    def loads_per_expiry(self) -> float:
        return self.loads / self.expiries

    @property
    def error_messages(self) -> list[str]:
        return [event for _, event, _ in self.timeline if event.startswith("error:")]

    @property
    def stale_serves(self) -> int:
        return self.outcomes.get("stale", 0)

    def _load_sweep(self) -> tuple[int, int]:
        """(most loads running at once, number of refreshes = bursts of overlapping loads)."""
        events = sorted((t, 0 if e == "load_end" else 1) for _, e, t in self.timeline if e.startswith("load_"))
        running = peak = bursts = 0
        for _, starts in events:
            bursts += starts and running == 0
            running += 1 if starts else -1
            peak = max(peak, running)
        return peak, bursts

    @property
    def max_concurrent_loads(self) -> int:
        return self._load_sweep()[0]

    @property
    def refreshes(self) -> int:
        return self._load_sweep()[1]

    @property
    def loads_per_refresh(self) -> float:
        return self.loads / self.refreshes if self.refreshes else 0.0

    def summary(self) -> str:
        waits = f"wait median {statistics.median(self.wait_ms):.0f} ms, max {max(self.wait_ms)} ms" \
            if self.wait_ms else "no waits"
        return (f"{self.strategy:<7} {self.backend:<9} readers={self.readers} processes={self.processes}: "
                f"{self.loads} loads in {self.expiries} expiries ({self.loads_per_expiry:.1f}/expiry, "
                f"{self.loads_per_refresh:.1f}/refresh), "
                f"{self.reads} reads, {self.stale_serves} stale, {self.errors} errors, {waits}, "
                f"max {self.max_concurrent_loads} concurrent loads, {self.duration_ms / 1000:.2f} s")


def run_herd(strategy_name: str, redis_client: redis.Redis, *, readers: int = 100, load_ms: int = 50,
             ttl_s: float = 1.0, expiries: int = 2, processes: int | bool = False, think_ms: float = 5.0,
             seed: int = 0, name: str = "herd", namespace: str = "wc", options: dict | None = None) -> HerdResult:
    """Hammer one hot key with `readers` concurrent readers across `expiries` expiries.

    `processes` (live Redis only) splits the readers over that many processes (True = 4).
    `options` go to each reader's strategy (e.g. lock_ms, max_wait_ms, beta).
    """
    if isinstance(readers, bool) or not isinstance(readers, int) or not 1 <= readers <= 1000:
        raise InvalidInput("readers must be an integer from 1 to 1000")
    if isinstance(expiries, bool) or not isinstance(expiries, int) or not 1 <= expiries <= 20:
        raise InvalidInput("expiries must be an integer from 1 to 20")
    if not 0 < load_ms <= 1000 or not 0.05 <= ttl_s <= 10 or not 0 <= think_ms <= 1000:
        raise InvalidInput("need 0 < load_ms <= 1000, 0.05 <= ttl_s <= 10, 0 <= think_ms <= 1000")
    processes = 4 if processes is True else int(processes)
    if processes and not _is_live(redis_client):
        raise InvalidInput("several processes need a live Redis (fakeredis lives inside one process)")
    plan = dict(strategy=strategy_name, load_ms=load_ms, ttl_ms=int(ttl_s * 1000), think_ms=think_ms,
                expiries=expiries, seed=seed, name=name, namespace=namespace, options=_default_options(strategy_name, load_ms, options))
    duration_s = expiries * ttl_s + ttl_s / 2
    keys = KeySchema(namespace)
    redis_client.delete(keys.hot(name), keys.lock(name))
    prefiller = make_strategy(strategy_name, redis_client, keys, ttl_ms=plan["ttl_ms"], **plan["options"])

    def prefill() -> None:
        prefiller.store(name, "v0", load_ms)
    result = HerdResult(strategy_name, "redis" if _is_live(redis_client) else "fakeredis", readers,
                        processes, expiries, duration_s * 1000)
    if processes:
        parts = _run_processes(_url_of(redis_client), plan, readers, processes, duration_s, prefill)
    else:
        prefill()
        herd_client = _client_for_threads(redis_client, readers)
        try:
            parts = [_run_threads(herd_client, plan, range(readers), time.time(), duration_s)]
        finally:
            herd_client.close()
    for part in parts:
        result.reads += part["reads"]
        result.errors += part["errors"]
        result.stuck += part["stuck"]
        result.outcomes = dict(Counter(result.outcomes) + Counter(part["outcomes"]))
        result.wait_ms += part["wait_ms"]
        result.timeline += [tuple(event) for event in part["timeline"]]
    result.timeline.sort(key=lambda event: event[2])
    result.loads = sum(1 for _, event, _ in result.timeline if event == "load_start")
    return result


def _default_options(strategy_name: str, load_ms: int, options: dict | None) -> dict:
    defaults = {"lock": {"lock_ms": 4 * load_ms + 200, "max_wait_ms": 4 * load_ms + 200, "poll_ms": 5}}
    return {**defaults.get(strategy_name, {}), **(options or {})}


def _is_live(client) -> bool:
    return not isinstance(client, fakeredis.FakeRedis)


def _client_for_threads(client: redis.Redis, readers: int) -> redis.Redis:
    """A client on the same server (or FakeServer) whose pool has a connection for every reader.

    redis-py 8 caps a pool's connections; 100 readers plus the caller's own threads exceed it.
    """
    pool = client.connection_pool
    return redis.Redis(connection_pool=pool.__class__(connection_class=pool.connection_class,
                                                      max_connections=readers + 16, **pool.connection_kwargs))


def _url_of(client: redis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    auth = f"{kw.get('username') or ''}:{kw['password']}@" if kw.get("password") else ""
    return f"redis://{auth}{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def _run_threads(client, plan: dict, reader_ids, start: float, duration_s: float) -> dict:
    """Run one thread per reader id until start + duration_s; merge their counts."""
    window = _ReadWindow(start, duration_s, expired_at=start + plan["expiries"] * plan["ttl_ms"] / 1000)
    parts = [dict(reads=0, errors=0, outcomes=Counter(), wait_ms=[], timeline=[]) for _ in reader_ids]
    threads = [threading.Thread(target=_reader, args=(client, plan, i, start, window, part),
                                name=f"r{i:03d}", daemon=True) for i, part in zip(reader_ids, parts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, window.latest_end + GRACE_S - time.time()))
    return dict(reads=sum(p["reads"] for p in parts), errors=sum(p["errors"] for p in parts),
                stuck=sum(t.is_alive() for t in threads),
                outcomes=dict(sum((p["outcomes"] for p in parts), Counter())),
                wait_ms=[w for p in parts for w in p["wait_ms"]],
                timeline=[e for p in parts for e in list(p["timeline"])])


class _ReadWindow:
    """When readers stop: at the deadline, unless no read has begun after the last expiry yet.

    On a starved machine (threads not scheduled for a tenth of a second) every read could fall
    before the expiry, and the run would count no loads because it never saw the key expire.
    """

    def __init__(self, start: float, duration_s: float, expired_at: float):
        self.deadline, self.expired_at = start + duration_s, expired_at
        self.latest_end = self.deadline + GRACE_S
        self._expiry_seen = threading.Event()

    def keep_reading(self) -> bool:
        now = time.time()
        return now < self.deadline or (not self._expiry_seen.is_set() and now < self.latest_end)

    def read_begins(self) -> None:
        """Called just before a read: a read that begins after the last expiry has seen it."""
        if time.time() >= self.expired_at:
            self._expiry_seen.set()


def _reader(client, plan: dict, i: int, start: float, window: _ReadWindow, out: dict) -> None:
    reader = f"r{i:03d}"
    strategy = make_strategy(plan["strategy"], client, KeySchema(plan["namespace"]), ttl_ms=plan["ttl_ms"],
                             clock=SystemClock(), seed=plan["seed"] + i, **plan["options"])

    def since() -> float:
        return round((time.time() - start) * 1000, 2)

    def load():
        out["timeline"].append((reader, "load_start", since()))
        time.sleep(plan["load_ms"] / 1000)
        out["timeline"].append((reader, "load_end", since()))
        return f"v@{since():.0f}"

    while window.keep_reading():
        window.read_begins()
        try:
            read = strategy.get(plan["name"], load)
        except Exception as exc:  # a reader's failure is a measured outcome, not the end of the run
            out["errors"] += 1
            out["timeline"].append((reader, f"error:{type(exc).__name__}: {exc}"[:200], since()))
        else:
            out["reads"] += 1
            out["outcomes"][read.outcome] += 1
            if read.waited_ms:
                out["wait_ms"].append(read.waited_ms)
            if read.outcome in ("waited", "stale"):
                out["timeline"].append((reader, read.outcome, since()))
        time.sleep(plan["think_ms"] / 1000)


def _process_main(url: str, plan: dict, reader_ids: list[int], duration_s: float, barrier, go, results) -> None:
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2,
                                  max_connections=len(reader_ids) + 16)
    try:
        client.ping()
        barrier.wait()
        if not go.wait(timeout=30):
            return
        part = _run_threads(client, plan, reader_ids, time.time(), duration_s)
        results.put(part)
    finally:
        client.close()


def _run_processes(url: str, plan: dict, readers: int, processes: int, duration_s: float,
                   prefill) -> list[dict]:
    """Readers split over `processes` spawned processes: all ready, then prefill, then go."""
    ctx = multiprocessing.get_context("spawn")
    barrier, go, results = ctx.Barrier(processes + 1, timeout=30), ctx.Event(), ctx.Queue()
    ids = list(range(readers))
    workers = [ctx.Process(target=_process_main, daemon=True,
                           args=(url, plan, ids[p::processes], duration_s, barrier, go, results))
               for p in range(processes)]
    for worker in workers:
        worker.start()
    parts = []
    try:
        barrier.wait()
        prefill()
        go.set()  # each process measures its timeline from here (same machine, same wall clock)
        for _ in workers:
            parts.append(results.get(timeout=duration_s + 3 * GRACE_S))
    finally:
        for worker in workers:
            worker.join(timeout=GRACE_S)
            if worker.is_alive():
                worker.kill()
    return parts
