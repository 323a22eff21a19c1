"""One concurrent read/write workload, run under each pattern on a fresh world, side by side.

Clients run at the same time on the simulated clock (concurrency.py), so readers and
writers overlap as on a busy server; staleness is judged against `VersionLog`.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from itertools import accumulate

from .concurrency import Simulation
from ..config import produced_on
from ..errors import InvalidInput
from ..latency import LatencyModel
from ..world import World
from ..tables import Column, format_table
from . import PatternContext, WriteBehindWorker, make

DEFAULT_PATTERNS = ("cache-aside (naive)", "cache-aside", "write-through", "write-behind", "TTL only")


@dataclass(frozen=True)
class MixSpec:
    """The workload: how many operations, what share are writes, over how many users and clients."""

    operations: int = 2_000
    write_share: float = 0.2
    users: int = 20
    clients: int = 16
    think_ms: float = 200.0
    skew: float = 1.0
    ttl_s: int = 60
    jitter: float = 0.0
    worker_every_ms: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.operations <= 1_000_000 or not 1 <= self.clients <= 1_000 or not 1 <= self.users <= 60:
            raise InvalidInput("operations 1..1,000,000, clients 1..1,000, users 1..60 (the tiny data set)")
        if not 0 <= self.write_share <= 1 or not 0 <= self.jitter <= 1:
            raise InvalidInput("write_share and jitter are fractions from 0 to 1")
        if self.ttl_s <= 0 or self.think_ms < 0 or self.worker_every_ms <= 0:
            raise InvalidInput("ttl_s and worker_every_ms must be positive, think_ms not negative")


@dataclass
class PatternResult:
    """One row of the comparison."""

    pattern: str
    reads: int
    writes: int
    hit_ratio: float
    db_reads: int
    db_writes: int
    stale_reads: int
    stale_share: float
    longest_stale_ms: int
    avg_read_ms: float
    avg_write_ms: float
    max_queue: int = 0
    stale_over_1s: int = 0
    backend: str = ""  # where it ran: BackendConfig.label of the world


def run_pattern(world, name: str, spec: MixSpec) -> PatternResult:
    """Run the workload under one pattern on `world` (its clock must be simulated)."""
    context = PatternContext.from_world(world, ttl_s=spec.ttl_s, jitter=spec.jitter)
    pattern = make(name, context)
    users = [row["id"] for row in world.dataset.tables["users"][: spec.users]]
    simulation = Simulation(world.clock)
    rng = random.Random(spec.seed)
    weights = list(accumulate(1 / (rank + 1) ** spec.skew for rank in range(len(users))))
    plan = [(users[bisect.bisect(weights, rng.random() * weights[-1])], rng.random() < spec.write_share)
            for _ in range(spec.operations)]
    finished = []
    for client in range(spec.clients):
        mine = plan[client:: spec.clients]
        simulation.spawn(_client(pattern, mine, spec.think_ms, random.Random(spec.seed * 1000 + client)),
                         name=f"client-{client}", on_done=finished.append)
    worker = None
    queue = [0]
    if name == "write-behind":
        worker = WriteBehindWorker(world.redis, world.repo, world.keys, world.clock, metrics=world.metrics)
        simulation.spawn(_worker(worker, spec, finished, queue), name="worker")
    with world.metrics.recording() as records:  # every request of the run, however few the log keeps
        simulation.run()
    errors = [task.error for task in simulation.finished if task.error is not None]
    if errors:
        raise errors[0]
    return _result(world, name, context, worker, queue[0], records)


def _client(pattern, operations, think_ms, rng):
    for user, is_write in operations:
        yield rng.expovariate(1 / think_ms) if think_ms else 0
        if is_write:
            yield from pattern.write(user, f"status {rng.randrange(1_000_000)}")
        else:
            yield from pattern.read(user)


def _worker(worker, spec, finished, queue):
    while len(finished) < spec.clients or worker.lag().waiting:
        yield spec.worker_every_ms
        queue[0] = max(queue[0], worker.lag().waiting)
        yield from worker.steps()


def _result(world, name, context, worker, max_queue, records) -> PatternResult:
    reads = [r for r in records if r.operation == "status_read"]
    writes = [r for r in records if r.operation == "status_write"]
    hits = sum(r.outcome == "hit" for r in reads)
    db_writes = sum(r.db_queries for r in writes)
    if worker is not None:
        db_writes = worker.totals.applied + worker.totals.skipped
    report = context.truth.report
    return PatternResult(
        pattern=name, reads=len(reads), writes=len(writes), hit_ratio=hits / len(reads) if reads else 0.0,
        db_reads=sum(r.db_queries for r in reads), db_writes=db_writes, stale_reads=report.stale_reads,
        stale_share=report.stale_share, longest_stale_ms=report.longest_window_ms,
        avg_read_ms=sum(r.simulated_ms for r in reads) / len(reads) if reads else 0.0,
        avg_write_ms=sum(r.simulated_ms for r in writes) / len(writes) if writes else 0.0,
        max_queue=max_queue, stale_over_1s=report.stale_longer_than(1000), backend=world.config.label)


def compare(spec: MixSpec = MixSpec(), patterns=DEFAULT_PATTERNS, progress: bool = False) -> list[PatternResult]:
    """Each pattern on its own fresh embedded world (tiny data set), same seed, same workload.

    Always embedded, whatever WHATSAPP_CACHE_REDIS_URL and WHATSAPP_CACHE_DATABASE_URL say: a live
    cache and database left by an earlier run would change every figure. run_pattern takes any world.
    """
    names = list(patterns)
    if progress:
        from tqdm.auto import tqdm  # only with a progress bar: it loads in about 0.06 s
        names = tqdm(names, desc="patterns")
    rows = []
    for name in names:
        with World(None, None, seed=spec.seed, dataset="tiny", latency=LatencyModel(seed=spec.seed),
                   environment=False) as world:
            rows.append(run_pattern(world, name, spec))
    return rows


_COLUMNS = (Column("pattern", "<", width=22), Column("reads", format=",", width=6), Column("writes", format=","),
            Column("hit ratio", format=".1%"), Column("db reads", format=","), Column("db writes", format=","),
            Column("stale reads", format=".1%"), Column("longest stale ms", format=","),
            Column("read ms", format=".1f"), Column("write ms", format=".1f"))


def format_comparison(rows: list[PatternResult]) -> str:
    """A fixed-width table, one pattern a line, below a line naming the backends it ran on."""
    cells = [(r.pattern, r.reads, r.writes, r.hit_ratio, r.db_reads, r.db_writes, r.stale_share,
              r.longest_stale_ms, r.avg_read_ms, r.avg_write_ms) for r in rows]
    return format_table(_COLUMNS, cells, rule="-", title=produced_on(rows))
