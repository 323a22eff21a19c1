"""Several app servers with local caches, one workload, and how stale their reads were.

Each write stores a status message "s<N>" (N counts writes), so a read tells which
version it saw; `VersionLog` says whether that was stale and for how long. Servers
apply invalidations every `poll_every_ms` (delivery is not instant), and one server can
be cut off from pub/sub for a while: it misses invalidations until it reconnects.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, replace
from itertools import accumulate

from ..config import produced_on
from ..errors import InvalidInput
from ..patterns.staleness import VersionLog
from ..world import World
from ..tables import Column, format_table
from .pubsub import AppServer

MODES = ("pub/sub", "local TTL only")


@dataclass(frozen=True)
class FleetSpec:
    """The fleet and its workload; `outage_s` cuts server 0 off pub/sub between two times (seconds)."""

    servers: int = 3
    operations: int = 3_000
    write_share: float = 0.05
    users: int = 20
    local_ttl_s: int = 30
    poll_every_ms: int = 100
    think_ms: float = 100.0
    outage_s: tuple[float, float] | None = (60.0, 120.0)
    mode: str = "pub/sub"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"mode must be one of {MODES}")
        if not 1 <= self.servers <= 20 or not 1 <= self.users <= 60 or self.operations < 1:
            raise InvalidInput("servers 1..20, users 1..60 (the tiny data set), operations >= 1")
        if not 0 <= self.write_share <= 1 or self.local_ttl_s <= 0 or self.poll_every_ms <= 0:
            raise InvalidInput("write_share is a fraction; local_ttl_s and poll_every_ms must be positive")


@dataclass
class FleetResult:
    mode: str
    reads: int
    writes: int
    local_hit_ratio: float
    stale_reads: int
    stale_share: float
    longest_stale_ms: int
    invalidations: int
    flushes: int
    backend: str = ""  # where it ran: BackendConfig.label of the world


def run_fleet(world, spec: FleetSpec) -> FleetResult:
    """Run the workload on `world` (simulated clock, tiny data set) and measure staleness."""
    rng = random.Random(spec.seed)
    servers = [AppServer(f"app{i}", world, local_ttl_ms=spec.local_ttl_s * 1000) for i in range(spec.servers)]
    users = [row["id"] for row in world.dataset.tables["users"][: spec.users]]
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(users))))
    truth, start = VersionLog(), world.clock.now_ms()
    next_poll, writes, reads = start, 0, 0
    try:
        for _ in range(spec.operations):
            world.clock.advance(rng.expovariate(1 / spec.think_ms))
            next_poll = _deliver(servers, spec, world.clock.now_ms(), next_poll, start)
            server = rng.choice(servers)
            user = users[bisect.bisect(weights, rng.random() * weights[-1])]
            if rng.random() < spec.write_share:
                writes += 1
                _write(server, world, spec, user, writes)
                truth.committed(user, writes, world.clock.now_ms())
            else:
                reads += 1
                seen = server.get_profile(user).status_message
                truth.read(user, int(seen[1:]) if seen.startswith("s") and seen[1:].isdigit() else 0,
                           world.clock.now_ms())
        stats = [server.stats for server in servers]
    finally:
        for server in servers:
            server.close()
    hits = sum(s.local_hits for s in stats)
    report = truth.report
    return FleetResult(spec.mode, reads, writes, hits / reads if reads else 0.0, report.stale_reads,
                       report.stale_share, report.longest_window_ms, sum(s.invalidations for s in stats),
                       sum(s.flushes for s in stats), world.config.label)


def _write(server, world, spec, user, number) -> None:
    if spec.mode == "pub/sub":
        server.update_profile(user, status_message=f"s{number}")
    else:
        world.profiles.update(user, status_message=f"s{number}")


def _deliver(servers, spec, now, next_poll, start) -> int:
    """Connect or cut off server 0 as the outage says, and let every server apply its invalidations."""
    if spec.outage_s is not None and spec.mode == "pub/sub":
        down = start + spec.outage_s[0] * 1000 <= now < start + spec.outage_s[1] * 1000
        if down and servers[0].connected:
            servers[0].disconnect()
        elif not down and not servers[0].connected:
            servers[0].reconnect()
    while next_poll <= now:
        if spec.mode == "pub/sub":
            for server in servers:
                server.poll()
        next_poll += spec.poll_every_ms
    return next_poll


def compare_fleet(spec: FleetSpec = FleetSpec(), modes=MODES) -> list[FleetResult]:
    """The same workload under each mode, each on a fresh embedded world.

    Always embedded, whatever WHATSAPP_CACHE_REDIS_URL and WHATSAPP_CACHE_DATABASE_URL say: a live
    cache and database left by an earlier run would change every figure. run_fleet takes any world.
    """
    rows = []
    for mode in modes:
        with World(None, None, seed=spec.seed, dataset="tiny", environment=False) as world:
            rows.append(run_fleet(world, replace(spec, mode=mode)))
    return rows


_COLUMNS = (Column("mode", "<", width=16), Column("reads", format=",", width=6), Column("writes", format=","),
            Column("local hits", format=".1%"), Column("stale reads", format=".1%"),
            Column("longest stale ms", format=","), Column("invalidations", format=","), Column("flushes"))


def format_fleet(rows: list[FleetResult]) -> str:
    """A fixed-width table, one mode a line, below a line naming the backends it ran on."""
    cells = [(r.mode, r.reads, r.writes, r.local_hit_ratio, r.stale_share, r.longest_stale_ms, r.invalidations,
              r.flushes) for r in rows]
    return format_table(_COLUMNS, cells, rule="-", title=produced_on(rows))
