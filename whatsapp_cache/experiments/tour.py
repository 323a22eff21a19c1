"""The terminal tour: one seeded workload on the chosen backends, summarized per data type."""

from __future__ import annotations

import json

from ..backends import describe_failure
from ..errors import ConfigError
from ..metrics import format_summary, summary_dicts
from ..resilience import UNAVAILABLE
from ..ttl import TTLs
from .workload import WorkloadSpec, run
from ..world import World


def tour(spec: WorkloadSpec, *, redis_url: str | None = None, database_url: str | None = None,
         size: str = "small", ttls: TTLs | None = None, progress: bool = True, as_json: bool = False,
         reset: bool = False, measured: bool = False) -> str:
    """Run the workload on a fresh cache and return the report text (or JSON).

    `reset` drops and reloads the course tables first, so a live database that an earlier
    run wrote to gives the same figures again.
    """
    with World(redis_url, database_url, seed=spec.seed, dataset=size, ttls=ttls) as world:
        _require_redis(world)
        if reset:
            world.reset(size)
        world.flush_cache()  # a live Redis may hold entries of an earlier run
        rows = run(world, spec, progress=progress)
        if as_json:
            return json.dumps({"backends": {"redis": world.config.redis_label,
                                            "database": world.config.database_label},
                               "workload": vars(spec), "summary": summary_dicts(rows)}, indent=2)
        return _report(world, spec, rows, measured)


def _require_redis(world: World) -> None:
    """The tour measures the cache: a Redis that does not answer is a ConfigError, not a run without it."""
    try:
        world.redis.ping()
    except UNAVAILABLE as exc:
        raise ConfigError(f"cannot reach {describe_failure(exc, world.config)}") from None


def _report(world: World, spec: WorkloadSpec, rows, measured: bool) -> str:
    overall = rows[-1]
    without_cache = overall.requests  # every request would have been at least one query
    lines = [
        f"whatsapp-cache tour: {spec.actions:,} user actions over {spec.duration_s / 3600:g} simulated hours "
        f"(user skew {spec.user_skew:g}, seed {spec.seed})",
        f"cache: {world.config.redis_label}   database: {world.config.database_label}",
        "",
        format_summary(rows, measured=measured),
        "",
        f"Overall: {overall.requests:,} requests, hit ratio {overall.hit_ratio:.1%} of reads, "
        f"{overall.db_queries:,} database queries (at least {without_cache:,} without a cache), "
        f"average simulated latency {overall.avg_simulated_ms:.1f} ms.",
        "Latencies are simulated with the seed's model (cache 1-5 ms, database 50-100 ms a call).",
    ]
    return "\n".join(lines)
