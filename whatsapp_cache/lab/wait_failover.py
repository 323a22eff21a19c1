"""What WAIT promises with two replicas, run on real processes: a master, replicas A and B, three sentinels.

    writes with WAIT n, both replicas healthy        -> WAIT returns 2: confirmed
    B frozen and its link cut; writes with WAIT n    -> WAIT returns 1 (A has them, B has not)
    SIGKILL the master; Sentinel promotes B          -> B lacks every write made while it was cut off

Sentinel ranks replicas by replica-priority before replication offset, and B is given the better
priority (as an operator does for a replica in the preferred zone), so the heir is the replica
without the writes. With WAIT 1 those writes were confirmed and are lost anyway; with WAIT 2
(every replica) they were never confirmed, and every confirmed write survives this failover.
Counts are deterministic; only the failover time is a wall-clock figure.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import redis

from ..validation import whole_number
from .cluster import LocalSentinel
from .process import connect

# When WAIT returns n, the writes before it on this connection were received by n replicas. Not that
# they are on disk, and not that a failover keeps them: the page's "Consistency and WAIT" calls the
# promotion of a replica that has the write a best-effort attempt.
WAIT_DOCS = "https://redis.io/docs/latest/commands/wait/"
PRIORITIES = (100, 10)  # replica A keeps the default; B (lower wins) is Sentinel's first choice
# How long the master must stay silent before a sentinel calls it down. The lab lives well under a
# second before the kill, and B is frozen for a few writes only, so nothing else is that silent.
DOWN_AFTER_MS = 500


@dataclass(frozen=True)
class WaitFailover:
    """Writes confirmed (or not) by WAIT numreplicas, counted on the replica Sentinel promoted."""

    numreplicas: int
    synced: int                 # written while both replicas kept up
    cut_off: int                # written while replica B was cut off
    replies: tuple[int, ...]    # what WAIT returned after each write, in order
    confirmed: int              # replies >= numreplicas
    lost: int                   # acknowledged, missing on the new master
    lost_confirmed: int         # confirmed by WAIT and still missing
    heir_had_writes: bool       # False: the promoted replica is the one that was cut off
    lost_on_holder: int         # missing, after the failover, on the replica that had them (it resyncs from the heir)
    failover_s: float           # SIGKILL to the sentinels agreeing on the new master (wall clock)

    @property
    def acknowledged(self) -> int:
        return self.synced + self.cut_off

    def describe(self) -> str:
        heir = "the replica that had them" if self.heir_had_writes else "the replica that was cut off"
        during = self.replies[self.synced:]
        return (f"WAIT {self.numreplicas}, 2 replicas: {self.acknowledged} writes acknowledged by the master\n"
                f"  both replicas up: WAIT confirmed {self._confirmed(self.replies[:self.synced])} of {self.synced}\n"
                f"  one replica cut off: WAIT returned {'/'.join(sorted(set(map(str, during))))} each time, "
                f"confirmed {self._confirmed(during)} of {self.cut_off}\n"
                f"  master killed, Sentinel promoted {heir}: lost {self.lost} writes, "
                f"{self.lost_confirmed} of them confirmed by WAIT\n"
                f"  the other replica now copies the new master: it lacks {self.lost_on_holder} of them too")

    def _confirmed(self, replies: tuple[int, ...]) -> int:
        return sum(reply >= self.numreplicas for reply in replies)



def wait_on_failover(numreplicas: int, synced: int = 5, cut_off: int = 5, wait_timeout_ms: int = 20,
                     failover_timeout_s: float = 30.0) -> WaitFailover:
    """Start a master with two replicas and Sentinel, write with WAIT numreplicas, kill the master, count."""
    numreplicas = whole_number(numreplicas, "numreplicas", 1, 2)
    synced, cut_off = whole_number(synced, "synced writes", 0, 100), whole_number(cut_off, "cut-off writes", 0, 100)
    wait_timeout_ms = whole_number(wait_timeout_ms, "WAIT timeout (ms)", 1, 1000)
    with LocalSentinel(replicas=2, sentinels=3, quorum=2, down_after_ms=DOWN_AFTER_MS, priorities=PRIORITIES) as lab:
        master = lab.master_address()[1]
        holder, behind = (n.port for n in lab.nodes() if n.role == "replica")
        keys = [f"wc:chat:{{c1}}:msg:{i}" for i in range(synced + cut_off)]
        with contextlib.closing(connect(master)) as writer:
            replies = _write(writer, keys[:synced], numreplicas, wait_timeout_ms)
            with _cut_off(lab, master, behind):
                replies += _write(writer, keys[synced:], numreplicas, wait_timeout_ms)
                lab.kill_master()
            started = time.monotonic()
            heir = lab.wait_for_failover(failover_timeout_s)[1]
            took = time.monotonic() - started
        missing = _missing(heir, keys)
        other = _missing(behind if heir == holder else holder, keys)  # followers are in sync once failed over
    confirmed = {i for i, reply in enumerate(replies) if reply >= numreplicas}
    return WaitFailover(numreplicas, synced, cut_off, tuple(replies), len(confirmed), len(missing),
                        len(missing & confirmed), heir == holder, len(other), took)


def wait_on_failovers(numreplicas: tuple[int, ...] = (1, 2), **options) -> dict[int, WaitFailover]:
    """wait_on_failover for each WAIT numreplicas, side by side: each on its own lab, in its own thread.

    A run is mostly waiting (for the replicas' first acknowledgement, for the sentinels to agree),
    so two runs together take about as long as one. Results by numreplicas.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(numreplicas)) as pool:
        futures = {n: pool.submit(wait_on_failover, n, **options) for n in numreplicas}
    return {n: future.result() for n, future in futures.items()}


def _missing(port: int, keys: list[str]) -> set[int]:
    """Indexes of the keys a node does not have."""
    with contextlib.closing(connect(port)) as client:
        return {i for i, key in enumerate(keys) if not client.exists(key)}


def _write(client: redis.Redis, keys: list[str], numreplicas: int, timeout_ms: int) -> list[int]:
    """SET each key (the master acknowledges it), then WAIT numreplicas; WAIT's replies."""
    replies = []
    for key in keys:
        client.set(key, "hi")
        replies.append(int(client.execute_command("WAIT", numreplicas, timeout_ms)))
    return replies


@contextlib.contextmanager
def _cut_off(lab: LocalSentinel, master: int, replica: int):
    """Freeze a replica (SIGSTOP by its pid) and have the master drop its link, so nothing more reaches it.

    Frozen, it cannot reconnect; with its link dropped, no byte waits in its socket either. It is
    resumed afterwards (by then its master is dead, so it gets nothing more).
    """
    with contextlib.closing(connect(replica)) as client:
        link = client.execute_command("CLIENT", "LIST", "TYPE", "master")
    local = dict(field.split("=", 1) for field in link.split())["laddr"]  # its end of the link to the master
    lab.pause(replica)
    try:
        with contextlib.closing(connect(master)) as client:
            client.execute_command("CLIENT", "KILL", "ADDR", local)
        yield
    finally:
        lab.resume(replica)
