"""Chapter 08's lessons on a local cluster, each as one call that returns the lines the chapter prints.

The chapter passes these to `stored.live_or_stored`, so a machine without redis-server prints the
text stored from an earlier run; the text here must therefore stay what was stored. Each function
runs one measurement from `replication`, `distribution`, `experiments.workload` or
`experiments.chaos` and formats it in a few lines.
"""

from __future__ import annotations

from ..experiments.chaos import run_failover
from ..experiments.workload import WorkloadSpec, run
from ..metrics import format_summary
from ..resilience import FailurePolicy
from ..world import World
from .cluster import LocalCluster
from .distribution import big_group_load
from .replication import lost_writes_on_failover, replica_reads, stale_read

READ_MODES = ("masters", "round_robin", "replicas")


def served(lab: LocalCluster, mode: str) -> str:
    """One line: how many of 300 GETs through a client in `mode` the masters and the replicas served."""
    reads = replica_reads(lab, mode)
    return f"{mode:<12} masters served {reads.on_masters:>3}, replicas {reads.on_replicas:>3}"


def served_in_every_mode(lab: LocalCluster) -> str:
    """`served` for masters only, round robin and replicas only."""
    return "\n".join(served(lab, mode) for mode in READ_MODES)


def stale(lab: LocalCluster) -> str:
    """The four values of one key around a write the replica's stream is held back from."""
    s = stale_read(lab)
    return (f"master: {s.master_value!r}\nreplica before the write: {s.replica_before!r}\n"
            f"replica while its stream is held: {s.replica_during!r}\nreplica after release: {s.replica_after!r}")


def crash(wait_timeout_ms: int | None = None, synced: int = 10, cut_off: int = 10,
          lab: LocalCluster | None = None) -> str:
    """A master SIGKILLed with writes its replica never got; what was lost.

    On `lab` (the chapter's cluster) the killed master is started again afterwards: it comes back
    empty, as its heir's replica, and the lab is whole for the next lesson. Without one, a fresh
    3 x 1 cluster (about 2 s more: a new master refuses to serve for its first 2 s).
    With `wait_timeout_ms`, each write is followed by WAIT 1 and the line splits the losses by
    whether WAIT confirmed the write.
    """
    if lab is None:
        with LocalCluster(masters=3, replicas_per_master=1) as fresh:
            return crash(wait_timeout_ms, synced, cut_off, fresh)
    r = lost_writes_on_failover(lab, synced=synced, cut_off=cut_off, wait_timeout_ms=wait_timeout_ms)
    lab.restart_killed()
    line = f"{r.acknowledged} writes acknowledged, {r.lost} lost after the failover"
    if r.wait_used:
        line += (f"; WAIT 1 confirmed {r.confirmed}: lost among those {r.lost_confirmed}, "
                 f"among the {r.acknowledged - r.confirmed} unconfirmed {r.lost - r.lost_confirmed}")
    return line


def spread(lab: LocalCluster, shards: int, members: int = 100_000, reads: int = 10) -> str:
    """One line: SMEMBERS calls and members sent per master for a big group split `shards` ways."""
    load = big_group_load(lab, members=members, shards=shards, reads=reads)
    calls = " / ".join(str(row[2]) for row in load.rows)
    sent = " / ".join(f"{row[3]:,}" for row in load.rows)
    layout = "one set" if shards == 1 else f"{shards} sub-sets"
    return f"{layout:<11} SMEMBERS per master {calls}, members sent {sent}"


def counted(rows) -> list[tuple]:
    """The counts that must match between two runs of one workload: per data type, requests to round trips."""
    return [(r.data_type, r.requests, r.hits, r.misses, r.db_queries, r.round_trips) for r in rows]


def on_the_cluster(lab: LocalCluster, actions: int = 1_000, seed: int = 0) -> str:
    """The seeded workload on the cluster and on the embedded Redis: the summary, and whether the counts match."""
    spec = WorkloadSpec(actions=actions, seed=seed)
    with World(lab.url + "?cluster=true", None, seed=seed) as clustered, World(seed=seed) as embedded:
        rows, reference = run(clustered, spec), run(embedded, spec)
        return format_summary(rows) + f"\nthe same counts as on the embedded Redis: {counted(rows) == counted(reference)}"


def describe_failover(report) -> str:
    """A failover report as the chapter prints it: requests, recovery, and any acknowledged cache writes lost."""
    recovered = "never" if report.recovery_s is None else f"{report.recovery_s:.0f} simulated s"
    lines = [
        f"requests attempted {report.requests:,}, failed {report.failed}, served from the database {report.fallbacks:,}",
        f"hit ratio back {recovered} after the outage; lost writes {report.lost_writes}, stale entries {report.stale}"]
    cache = (report.failover or {}).get("cache_writes")
    if cache:
        lines.append(f"acknowledged cache writes lost: without WAIT {cache['without_wait']['lost']} of "
                     f"{cache['without_wait']['acknowledged']}, among those WAIT confirmed "
                     f"{cache['with_wait']['lost_confirmed']} of {cache['with_wait']['confirmed']}")
    return "\n".join(lines)


def breakers(lab: LocalCluster, spec, per_node=None) -> str:
    """The failover run with a breaker per cluster node and with one per process, one line each.

    Both runs reuse the chapter's `lab`; `per_node`, the report of a per-node run the chapter has just
    made with the same spec, is not run again.
    """
    if per_node is None:
        per_node = run_failover(spec, lab=lab, lost_writes=False, policy=FailurePolicy(breaker_per_node=True))
    per_process = run_failover(spec, lab=lab, lost_writes=False, policy=FailurePolicy(breaker_per_node=False))
    return describe_breaker("a breaker per node", per_node) + "\n" + describe_breaker("one breaker per process",
                                                                                    per_process)


def describe_breaker(label: str, report) -> str:
    """One line: what a failover did to the reads while the slots had no master."""
    during = report.phase("during")
    return (f"{label:<24} during the failover: hit ratio {during.hit_ratio:.1%}, "
            f"{during.fallbacks:,} of {during.reads:,} reads from the database, "
            f"{during.db_queries_per_s:.1f} queries/s; failed {report.failed}")
