"""Replication, measured on a LocalCluster: replica reads, lag, a stale read, and writes lost on failover.

The seed ("Redis Replication Setup"): "Reads: can read from replicas", "Masters sync to replicas
(async, <1ms delay)", "If master dies, replica promoted to master". Each claim is run here:

    replica_reads(lab)             GETs through a cluster client that reads from replicas, counted per node
    replication_lag(lab)           master acknowledges a SET --> poll its replica until the value shows (us)
    stale_read(lab)                CLIENT PAUSE WRITE on the replica holds the stream: old value, then new
    lost_writes_on_failover(lab)   replica cut off, K acknowledged writes, SIGKILL master, replica promoted:
                                   count the acknowledged writes the new master does not have;
                                   with wait_timeout_ms, WAIT 1 after each write says which were confirmed
    wait_cost(lab)                 a SET alone vs SET + WAIT 1 in one pipeline, on a healthy replica (us)

Counts are deterministic; only the lag and WAIT figures are wall-clock timings.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import time
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, LoadBalancingStrategy, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from .. import validation
from ..clock import wait_until
from ..errors import ConfigError, InvalidInput
from ..validation import whole_number
from ..metrics import percentile
from .cluster import LocalCluster
from .process import HOST

SEED_LAG_MS = 1.0  # "async, <1ms delay"
READ_MODES = {"masters": None, "round_robin": LoadBalancingStrategy.ROUND_ROBIN,
              "replicas": LoadBalancingStrategy.ROUND_ROBIN_REPLICAS}


# --- small helpers ------------------------------------------------------------------------------


def _cluster_lab(lab: object) -> LocalCluster:
    if not isinstance(lab, LocalCluster) or lab.dir is None:
        raise InvalidInput(f"expected a started LocalCluster, got {lab!r}")
    return lab


def _direct(port: int, readonly: bool = False) -> redis.Redis:
    """One connection to one node; READONLY lets a cluster replica answer reads of its master's slots."""
    client = redis.Redis(HOST, port, decode_responses=True, socket_timeout=5, socket_connect_timeout=1,
                         single_connection_client=True, retry=Retry(NoBackoff(), 0))
    if readonly:
        client.execute_command("READONLY")
    return client


def cluster_client(lab: LocalCluster, mode: str = "masters") -> RedisCluster:
    """A redis-py cluster client; mode 'round_robin' reads from master and replica in turn, 'replicas' only replicas."""
    mode = validation.choice(mode, READ_MODES, "mode")
    nodes = [ClusterNode(host, port) for host, port in lab.startup_nodes if port in lab.live_ports()]
    return RedisCluster(startup_nodes=nodes, decode_responses=True, socket_timeout=5,
                        load_balancing_strategy=READ_MODES[mode])


def calls(port: int, command: str) -> int:
    """How many times a node has run `command` since it started (INFO commandstats)."""
    with _direct(port) as client:
        return client.info("commandstats").get(f"cmdstat_{command.lower()}", {}).get("calls", 0)


def _pair(lab: LocalCluster) -> tuple:
    """The first master that has a live replica, and that replica's port."""
    nodes = lab.nodes()
    for master in (n for n in nodes if n.role == "master" and n.alive and n.slots):
        replica = next((n.port for n in nodes if n.replicates == master.port and n.alive), None)
        if replica is not None:
            return master, replica
    raise ConfigError("no master of the lab has a live replica")


def tag_on(slots: tuple[tuple[int, int], ...], stem: str = "r") -> str:
    """The first hash tag {stem<i>} whose slot a node with these slot ranges serves."""
    for i in itertools.count():
        slot = key_slot(f"{stem}{i}".encode())
        if any(first <= slot <= last for first, last in slots):
            return f"{{{stem}{i}}}"


def _offset(port: int, field: str) -> int:
    with _direct(port) as client:
        return int(client.info("replication")[field])


def _caught_up(master: int, replica: int, timeout_s: float = 5.0) -> None:
    """Wait until the replica has processed every byte of the master's replication stream."""
    target = _offset(master, "master_repl_offset")
    if not wait_until(lambda: _offset(replica, "slave_repl_offset") >= target, timeout_s, poll_s=0.005):
        raise ConfigError(f"replica {replica} did not catch up with master {master} in {timeout_s} s")


def _wait_for_value(client: redis.Redis, key: str, value: str, timeout_s: float = 5.0) -> int:
    """Poll until key reads as value; return how many reads came back different first."""
    deadline = time.monotonic() + timeout_s
    for misses in itertools.count():
        if client.get(key) == value:
            return misses
        if time.monotonic() > deadline:
            raise ConfigError(f"{key} never read {value!r} within {timeout_s} s")


# --- replica reads ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplicaReads:
    """GETs through one cluster client, counted per node by the nodes themselves."""

    mode: str
    reads: int
    on_masters: int
    on_replicas: int
    per_node: tuple[tuple[int, str, int], ...]  # (port, role, GETs served)

    def describe(self) -> str:
        nodes = ", ".join(f"{port} ({role}) {gets}" for port, role, gets in self.per_node)
        return (f"{self.reads} GETs, client mode {self.mode!r}: masters served {self.on_masters}, replicas "
                f"{self.on_replicas}\n  per node: {nodes}")


def replica_reads(lab: LocalCluster, mode: str = "round_robin", reads: int = 300, keys: int = 30) -> ReplicaReads:
    """Write `keys` keys, read them `reads` times through a client in `mode`, count GETs per node (INFO commandstats)."""
    lab, reads, keys = _cluster_lab(lab), whole_number(reads, "reads", 1, 100_000), whole_number(keys, "keys", 1, 10_000)
    names = [f"wc:user:{{u{i:06d}}}:profile" for i in range(keys)]
    with contextlib.closing(cluster_client(lab)) as writer:
        writer.mset_nonatomic({name: "x" * 200 for name in names})
    nodes = [n for n in lab.nodes() if n.alive]
    for master in (n for n in nodes if n.role == "master"):
        replica = next((n.port for n in nodes if n.replicates == master.port), None)
        if replica is not None:
            _caught_up(master.port, replica)
    _wait_advertised(lab)
    before = {n.port: calls(n.port, "get") for n in nodes}
    with contextlib.closing(cluster_client(lab, mode)) as reader:  # its slot map lists the replicas now
        for i in range(reads):
            reader.get(names[i % keys])
    per_node = tuple((n.port, n.role, calls(n.port, "get") - before[n.port]) for n in nodes)
    return ReplicaReads(mode, reads, sum(g for _, role, g in per_node if role == "master"),
                        sum(g for _, role, g in per_node if role == "replica"), per_node)


def advertised_replicas(port: int) -> int:
    """Replicas a node lists in CLUSTER SLOTS (Redis 7 leaves out a replica that has received no data yet)."""
    with _direct(port) as client:
        return sum(len(entry) - 3 for entry in client.execute_command("CLUSTER", "SLOTS"))


def _wait_advertised(lab: LocalCluster, timeout_s: float = 10.0) -> None:
    """Wait until every live node's CLUSTER SLOTS lists every live replica (offsets travel by gossip)."""
    nodes = lab.nodes()
    expected = sum(n.role == "replica" and n.alive for n in nodes)
    listed = lambda: all(advertised_replicas(n.port) >= expected for n in nodes if n.alive)  # noqa: E731
    if not wait_until(listed, timeout_s, poll_s=0.05):
        raise ConfigError(f"CLUSTER SLOTS did not list all {expected} replicas within {timeout_s} s")


# --- lag ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplicationLag:
    """Acknowledgement on the master to visibility on its replica, over many writes (wall clock, microseconds)."""

    writes: int
    median_us: float
    p99_us: float
    max_us: float
    seen_at_first_poll: int   # writes already on the replica at the first read after the ack
    read_rtt_us: float        # median GET on the replica: the resolution of this measurement
    under_seed_1ms: int       # writes visible within the seed's "<1ms"

    def describe(self) -> str:
        return (f"replication lag over {self.writes} writes (master ack -> visible on the replica; real timings): "
                f"median {self.median_us:.0f} us, p99 {self.p99_us:.0f} us, max {self.max_us:.0f} us\n"
                f"  {self.seen_at_first_poll} of {self.writes} already visible at the first read after the ack "
                f"(one replica GET takes ~{self.read_rtt_us:.0f} us, the resolution here); "
                f"{self.under_seed_1ms} of {self.writes} within the seed's <{SEED_LAG_MS:g} ms")


def replication_lag(lab: LocalCluster, writes: int = 200) -> ReplicationLag:
    """SET on a master, then read its replica until the value shows; the time from the ack, per write."""
    lab, writes = _cluster_lab(lab), whole_number(writes, "writes", 1, 100_000)
    master, replica_port = _pair(lab)
    key = f"wc:lag:{tag_on(master.slots)}:value"
    lags, first = [], 0
    with _direct(master.port) as writer, _direct(replica_port, readonly=True) as reader:
        for i in range(writes):
            writer.set(key, str(i))
            acked = time.perf_counter_ns()
            first += _wait_for_value(reader, key, str(i)) == 0
            lags.append((time.perf_counter_ns() - acked) / 1000)
        rtt = _read_rtt_us(reader, key)
    return ReplicationLag(writes, statistics.median(lags), percentile(lags, 99), max(lags), first, rtt,
                          sum(lag < SEED_LAG_MS * 1000 for lag in lags))


def _read_rtt_us(reader: redis.Redis, key: str, reads: int = 100) -> float:
    times = []
    for _ in range(reads):
        started = time.perf_counter_ns()
        reader.get(key)
        times.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(times)


# --- a stale read -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaleRead:
    """One key read from the master and its replica while the replica's stream is held, then released."""

    master_value: str
    replica_before: str | None
    replica_during: str | None
    replica_after: str | None
    bytes_behind: int  # master_repl_offset - the replica's processed offset, during the hold

    def describe(self) -> str:
        return (f"stale read: master says {self.master_value!r}; replica before the write {self.replica_before!r}, "
                f"while its stream is held {self.replica_during!r} ({self.bytes_behind} bytes behind), "
                f"after release {self.replica_after!r}")


def stale_read(lab: LocalCluster, hold_ms: int = 5000) -> StaleRead:
    """Hold the replica's replication stream (CLIENT PAUSE WRITE on it: reads still served), write, read both."""
    lab, hold_ms = _cluster_lab(lab), whole_number(hold_ms, "hold (ms)", 100, 60_000)
    master, replica_port = _pair(lab)
    key = f"wc:user:{tag_on(master.slots, 'u')}:status"
    with _direct(master.port) as writer, _direct(replica_port, readonly=True) as reader:
        writer.set(key, "Available")
        _caught_up(master.port, replica_port)
        before = reader.get(key)
        reader.execute_command("CLIENT", "PAUSE", hold_ms, "WRITE")  # Redis 7 holds the master link's writes too
        try:
            writer.set(key, "In a meeting")
            behind = _behind(master.port, replica_port, hold_ms / 1000)
            during = reader.get(key)
        finally:
            reader.execute_command("CLIENT", "UNPAUSE")
        _wait_for_value(reader, key, "In a meeting")
        return StaleRead(writer.get(key), before, during, reader.get(key), behind)


def _behind(master: int, replica: int, timeout_s: float) -> int:
    """Bytes the replica has not applied, once the master's offset moved past it (polled, bounded)."""
    deadline = time.monotonic() + timeout_s / 2
    gap = 0
    while gap <= 0 and time.monotonic() < deadline:
        gap = _offset(master, "master_repl_offset") - _offset(replica, "slave_repl_offset")
    return gap


# --- acknowledged writes lost on failover -------------------------------------------------------

@dataclass(frozen=True)
class LostWrites:
    """Acknowledged writes counted after a master's crash and its replica's promotion."""

    synced: int             # written (and acknowledged) while the replica kept up
    cut_off: int            # written (and acknowledged) while the replica received nothing
    link_cut: bool          # False: the replica was only frozen; its socket still took the bytes
    wait_used: bool
    confirmed: int          # WAIT 1 said a replica had them (0 when WAIT is not used)
    lost: int               # acknowledged, missing on the promoted replica
    lost_confirmed: int     # confirmed by WAIT and still lost (the promise WAIT makes: 0)
    failover_s: float       # SIGKILL to promoted replica serving every slot (wall clock)

    @property
    def acknowledged(self) -> int:
        return self.synced + self.cut_off

    def describe(self) -> str:
        how = "replica frozen and its link cut" if self.link_cut else "replica frozen (SIGSTOP), link left open"
        wait = (f"; WAIT 1 confirmed {self.confirmed}, lost among them {self.lost_confirmed}, lost among the "
                f"{self.acknowledged - self.confirmed} unconfirmed {self.lost - self.lost_confirmed}"
                if self.wait_used else "; no WAIT: the application cannot tell which")
        return (f"{how}: {self.acknowledged} writes acknowledged by the master ({self.synced} before, "
                f"{self.cut_off} during); after SIGKILL and failover ({self.failover_s:.1f} s) "
                f"the new master lacks {self.lost}{wait}")


@contextlib.contextmanager
def _frozen(lab: LocalCluster, port: int):
    """SIGSTOP a lab node by its own pid, always SIGCONT it afterwards."""
    lab.pause(port)
    try:
        yield
    finally:
        lab.resume(port)


def lost_writes_on_failover(lab: LocalCluster, synced: int = 10, cut_off: int = 10, cut_link: bool = True,
                            wait_timeout_ms: int | None = None, failover_timeout_s: float = 20.0) -> LostWrites:
    """Write while the replica keeps up, then while it is cut off; kill the master; count what the heir lacks.

    The lab's first master with a replica is the victim; afterwards its replica is the master of its slots
    and the victim is gone (lab.restart(port) brings it back empty, as a replica).
    """
    lab = _cluster_lab(lab)
    synced, cut_off = whole_number(synced, "synced writes", 0, 10_000), whole_number(cut_off, "cut-off writes", 0, 10_000)
    if wait_timeout_ms is not None:
        whole_number(wait_timeout_ms, "WAIT timeout (ms)", 1, 10_000)
    master, replica_port = _pair(lab)
    tag = tag_on(master.slots, "w")
    keys = [f"wc:chat:{tag}:msg:{i}" for i in range(synced + cut_off)]
    with _direct(master.port) as writer:
        confirmed = _write(writer, keys[:synced], wait_timeout_ms)  # indexes of the writes WAIT confirmed
        _caught_up(master.port, replica_port)
        with _frozen(lab, replica_port):
            if cut_link:  # the master drops the replica's connection: later writes go to no socket at all
                writer.execute_command("CLIENT", "KILL", "TYPE", "replica")
            confirmed |= _write(writer, keys[synced:], wait_timeout_ms)
            lab.kill(master.port)
        started = time.monotonic()
        lab.wait_for_failover(master.port, failover_timeout_s)
        took = time.monotonic() - started
    with _direct(replica_port) as heir:
        present = [bool(heir.exists(key)) for key in keys]
    lost = [i for i, kept in enumerate(present) if not kept]
    return LostWrites(synced, cut_off, cut_link, wait_timeout_ms is not None, len(confirmed), len(lost),
                      len(set(lost) & confirmed), took)


def _write(client: redis.Redis, keys: list[str], wait_timeout_ms: int | None) -> set[int]:
    """SET each key (each acknowledged); with a timeout, WAIT 1 after each; return indexes WAIT confirmed."""
    confirmed = set()
    for key in keys:
        client.set(key, "hi")
        if wait_timeout_ms is not None and client.execute_command("WAIT", 1, wait_timeout_ms) >= 1:
            confirmed.add(int(key.rpartition(":")[2]))
    return confirmed


# --- the price of WAIT --------------------------------------------------------------------------

@dataclass(frozen=True)
class WaitCost:
    """Per-write latency without and with WAIT 1 on a healthy replica (wall clock, microseconds)."""

    writes: int
    plain_median_us: float
    plain_p99_us: float
    wait_median_us: float
    wait_p99_us: float
    confirmed: int  # writes WAIT reported as on the replica

    def describe(self) -> str:
        return (f"WAIT's price over {self.writes} writes each (real timings): SET alone median "
                f"{self.plain_median_us:.0f} us (p99 {self.plain_p99_us:.0f}); SET + WAIT 1 in one pipeline median "
                f"{self.wait_median_us:.0f} us (p99 {self.wait_p99_us:.0f}), "
                f"{self.wait_median_us / self.plain_median_us:.1f}x; confirmed {self.confirmed} of {self.writes}")


def wait_cost(lab: LocalCluster, writes: int = 300, timeout_ms: int = 1000) -> WaitCost:
    """Alternate a plain SET and a pipelined SET + WAIT 1 on one master; time each."""
    lab, writes = _cluster_lab(lab), whole_number(writes, "writes", 1, 100_000)
    timeout_ms = whole_number(timeout_ms, "WAIT timeout (ms)", 1, 10_000)
    master, _ = _pair(lab)
    key = f"wc:user:{tag_on(master.slots, 'u')}:status"
    plain, waited, confirmed = [], [], 0
    with _direct(master.port) as client:
        for i in range(writes):
            plain.append(_timed(lambda: client.set(key, f"plain {i}")))
            pipe = client.pipeline(transaction=False)
            pipe.set(key, f"waited {i}").execute_command("WAIT", 1, timeout_ms)
            replies = []
            waited.append(_timed(lambda: replies.extend(pipe.execute())))
            confirmed += replies[1] >= 1
    return WaitCost(writes, statistics.median(plain), percentile(plain, 99), statistics.median(waited),
                    percentile(waited, 99), confirmed)


def _timed(action) -> float:
    started = time.perf_counter_ns()
    action()
    return (time.perf_counter_ns() - started) / 1000
