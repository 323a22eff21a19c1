"""A local lab of real redis-server processes: a Redis Cluster, or one master with replicas and Sentinel.

    LocalCluster(masters=3, replicas_per_master=1)
        6 nodes on free ports; slots 0-5460, 5461-10921, 10922-16383 on the 3 masters,
        one replica each; kill(port) a master, wait_for_failover(port) until its replica serves
    LocalSentinel(replicas=2, sentinels=3, quorum=2)
        master <- 2 replicas (--replicaof), 3 sentinels watching it (redis-server <conf> --sentinel);
        kill_master(), wait_for_failover() until the sentinels report a promoted replica

`python -m whatsapp_cache cluster up | status | down` runs a detached lab (lab_up, lab_down).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import redis

from ..clock import wait_until
from ..errors import ConfigError, InvalidInput
from ..tables import Column, format_table
from .process import HOST, STOP_TIMEOUT_S, RedisProcess, binary, connect, free_port

SLOTS = 16384
BUS_OFFSET = 10000  # a cluster node also listens on port + 10000, for the cluster bus
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _size(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _call(port: int, *command):
    with connect(port) as client:
        return client.execute_command(*command)


def _info(port: int, section: str) -> dict:
    with connect(port) as client:
        return client.info(section)


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
            return True
        except (OSError, OverflowError):
            return False


def _free_ports(count: int, bus: bool = False) -> list[int]:
    """`count` distinct free ports; with bus, port + 10000 is free too and no port is another's bus port."""
    ports: list[int] = []
    taken: set[int] = set()
    for _ in range(50 * count):
        port = free_port()
        wanted = {port, port + BUS_OFFSET} if bus else {port}
        if wanted & taken or (bus and not _bindable(port + BUS_OFFSET)):
            continue
        ports.append(port)
        taken |= wanted
        if len(ports) == count:
            return ports
    raise ConfigError(f"could not find {count} free ports on {HOST}")


@dataclass(frozen=True)
class NodeInfo:
    """One process of a lab as the lab sees it now."""

    port: int
    pid: int | None
    alive: bool
    role: str                     # master, replica, sentinel, or unknown (not answering, not in the view)
    replicates: int | None = None  # a replica's master, by port
    slots: tuple[tuple[int, int], ...] = ()
    keys: int | None = None
    failing: bool = False         # flagged fail or pfail by the cluster


def _dbsize(port: int) -> int | None:
    try:
        return _call(port, "DBSIZE")
    except redis.RedisError:
        return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _ranges(slots: tuple[tuple[int, int], ...]) -> str:
    return ",".join(f"{first}-{last}" if first != last else str(first) for first, last in slots)


def format_nodes(nodes: list[NodeInfo]) -> str:
    """A table of nodes: port, pid, alive, role, replicates, slots, keys."""
    columns = [Column(name, "<") for name in ("port", "pid", "alive", "role", "replicates", "slots", "keys")]
    rows = [(n.port, n.pid or "-", "yes" if n.alive else "NO", n.role + (" (failing)" if n.failing else ""),
             n.replicates or "-", _ranges(n.slots) or "-", "-" if n.keys is None else n.keys) for n in nodes]
    return format_table(columns, rows, gap="  ")


def describe_layout(nodes: list[NodeInfo]) -> str:
    """Masters by slot range with their replicas' count and keys, without ports or pids (they change run to run)."""
    masters = sorted((n for n in nodes if n.role == "master" and n.slots), key=lambda n: n.slots[0])
    lines = []
    for number, master in enumerate(masters, 1):
        replicas = [n for n in nodes if n.role == "replica" and n.replicates == master.port and n.alive]
        keys = "" if master.keys is None else f", {_count(master.keys, 'key')}"
        lines.append(f"master {number}: slots {_ranges(master.slots)}, {_count(len(replicas), 'replica')}{keys}")
    served = sum(last - first + 1 for n in masters for first, last in n.slots)
    lines.append(f"{served} of {SLOTS} slots served")
    return "\n".join(lines)


# --- the two labs -------------------------------------------------------------------------------

class _Lab:
    """What both labs share: one temporary directory, nodes signalled by pid, a state for the CLI.

    Every node is a RedisProcess (process.py): it listens on 127.0.0.1 with persistence off, keeps its
    files in its own directory under the lab's one temporary directory, and is signalled only by its
    own pid. An in-process lab's servers are children of this process.
    """

    kind = "lab"

    def __init__(self, detached: bool, timeout_s: float):
        binary()
        self.detached, self.timeout_s = detached, timeout_s
        self.dir: Path | None = None
        self._nodes: dict[int, RedisProcess] = {}

    def start(self):
        """Start every process and wait until the setup is ready; on any failure, stop what started."""
        if self.dir is not None:
            raise ConfigError(f"this {self.kind} lab is already started")
        self.dir = Path(tempfile.mkdtemp(prefix=f"whatsapp_cache_{self.kind}_"))
        if not self.detached:
            atexit.register(self.stop)  # a forgotten in-process lab does not outlive the interpreter
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def _add(self, port: int, role: str, args: list[str]) -> RedisProcess:
        node = self._nodes[port] = RedisProcess(*args, port=port, home=self.dir / f"{role}-{port}", role=role)
        node.home.mkdir()
        return node

    def _launch(self, nodes: list[RedisProcess]) -> None:
        """Start these nodes together, then wait until each answers."""
        for node in nodes:
            node.launch(self.detached)
        deadline = time.monotonic() + self.timeout_s
        for node in nodes:
            node.wait_ready(deadline)

    def _wait_until(self, problems, what: str, timeout_s: float | None = None) -> float:
        """Poll problems() until it returns none, and return the seconds waited; on timeout say what is missing."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        started, left = time.monotonic(), []

        def settled() -> bool:
            left[:] = problems()  # the last answer is what the error names
            return not left

        if not wait_until(settled, timeout_s, poll_s=0.05):
            raise ConfigError(f"{what}: not reached within {timeout_s:g} s; still " + "; ".join(left[:6]))
        return time.monotonic() - started

    def _node(self, port: int) -> RedisProcess:
        if port not in self._nodes:
            raise InvalidInput(f"port {port} is not a node of this {self.kind} lab ({sorted(self._nodes)})")
        return self._nodes[port]

    def _live(self, role: str | None = None) -> list[RedisProcess]:
        return [node for node in self._nodes.values() if node.alive() and role in (None, node.role)]

    def kill(self, port: int) -> None:
        """SIGKILL one node by its pid (a crash: no shutdown) and wait until it is gone."""
        self._node(port).kill()

    def pause(self, port: int) -> None:
        """SIGSTOP one node by its pid: it neither answers nor reads (a hung process); resume() it."""
        self._node(port).pause()

    def resume(self, port: int) -> None:
        """SIGCONT a paused node."""
        self._node(port).resume()

    def restart_killed(self) -> list[int]:
        """Start again every node whose process is gone (each comes back empty); their ports."""
        killed = sorted(port for port, node in self._nodes.items() if not node.alive())
        for port in killed:
            self.restart(port)
        return killed

    def live_ports(self) -> list[int]:
        """The ports of the nodes whose processes run."""
        return [port for port, node in self._nodes.items() if node.alive()]

    def restart(self, port: int) -> None:
        """Start a killed node again on its port and directory; returns once it answers."""
        node = self._node(port)
        if node.alive():
            raise ConfigError(f"node {port} is still running; kill({port}) it first")
        self._launch([node])

    def stop(self) -> list[int]:
        """Stop our own processes (SIGTERM, SIGKILL after 5 s), wait for them, remove the lab's directory.

        Returns the pids that were signalled; nodes already gone (or whose pid is now another
        program's) are left alone.
        """
        signalled = [node.pid for node in self._nodes.values() if node.signal(signal.SIGTERM)]
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for node in self._nodes.values():
            if not node.wait_gone(max(0.0, deadline - time.monotonic())):
                node.signal(signal.SIGKILL)
                node.wait_gone(5)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        atexit.unregister(self.stop)
        return signalled

    def state(self) -> dict:
        """What `cluster down` and `status` need to find this lab again from another process."""
        return {"kind": self.kind, "dir": str(self.dir), "options": self._options(),
                "nodes": [node.to_state() for node in self._nodes.values()]}

    @classmethod
    def attach(cls, state: dict):
        """The lab a state describes, started by another process (its nodes are reached by pid)."""
        lab = cls(**state["options"], detached=True)
        lab.dir = Path(state["dir"])
        lab._nodes = {entry["port"]: RedisProcess.from_state(entry) for entry in state["nodes"]}
        return lab

    def _options(self) -> dict:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = sum(node.alive() for node in self._nodes.values())
        return f"{type(self).__name__}({running} of {len(self._nodes)} processes running, dir={self.dir})"


class _Row(NamedTuple):
    """One line of CLUSTER NODES."""

    id: str
    port: int
    flags: frozenset
    master_id: str
    slots: tuple[tuple[int, int], ...]


def _parse_cluster_nodes(text: str) -> list[_Row]:
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        port = int(fields[1].split("@")[0].rpartition(":")[2])
        slots = tuple(tuple(int(s) for s in f.split("-")) if "-" in f else (int(f), int(f))
                      for f in fields[8:] if not f.startswith("["))  # [slot->-id] = migrating, not owned
        rows.append(_Row(fields[0], port, frozenset(fields[2].split(",")), fields[3], slots))
    return rows


def _cluster_view(port: int) -> list[_Row]:
    return _parse_cluster_nodes(_call(port, "CLUSTER", "NODES"))


def _cluster_info(port: int) -> dict[str, str]:
    text = _call(port, "CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _slot_split(masters: int) -> list[tuple[int, int]]:
    return [(i * SLOTS // masters, (i + 1) * SLOTS // masters - 1) for i in range(masters)]


class LocalCluster(_Lab):
    """A Redis Cluster of local redis-server processes: `masters` masters with `replicas_per_master` each.

    Failover needs a majority of masters alive, so kill experiments want masters >= 3.
    """

    kind = "cluster"

    def __init__(self, masters: int = 3, replicas_per_master: int = 1, node_timeout_ms: int = 1000,
                 timeout_s: float = 30.0, detached: bool = False):
        self.masters = _size(masters, "masters", 1, 10)
        self.replicas_per_master = _size(replicas_per_master, "replicas per master", 0, 3)
        self.node_timeout_ms = _size(node_timeout_ms, "node timeout (ms)", 100, 60_000)
        super().__init__(detached, timeout_s)
        self._heirs: dict[int, list[int]] = {}

    def _options(self) -> dict:
        return {"masters": self.masters, "replicas_per_master": self.replicas_per_master,
                "node_timeout_ms": self.node_timeout_ms, "timeout_s": self.timeout_s}

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self._nodes]

    @property
    def url(self) -> str:
        """The first master (as created): redis://127.0.0.1:<port>/0."""
        return f"redis://{HOST}:{next(iter(self._nodes))}/0"

    def _start(self) -> None:
        count = self.masters * (1 + self.replicas_per_master)
        options = ["--cluster-enabled", "yes", "--cluster-node-timeout", str(self.node_timeout_ms)]
        for index, port in enumerate(_free_ports(count, bus=True)):
            role = "master" if index < self.masters else "replica"
            self._add(port, role, [*options, "--cluster-config-file", f"nodes-{port}.conf"])
        self._launch(list(self._nodes.values()))
        self._form()

    def _form(self) -> None:
        """Give the masters their slots, introduce every node, attach the replicas, wait for full coverage."""
        # Done here rather than by `redis-cli --cluster create`: the layout is ours to know (replica i follows
        # master i // replicas_per_master, which the failover lessons rely on), every step's error names the
        # node that refused it instead of a screen of redis-cli text, and nothing depends on redis-cli's
        # prompts, output or version.
        masters = [port for port, node in self._nodes.items() if node.role == "master"]
        replicas = [port for port, node in self._nodes.items() if node.role == "replica"]
        for epoch, (port, (first, last)) in enumerate(zip(masters, _slot_split(self.masters)), start=1):
            _call(port, "CLUSTER", "SET-CONFIG-EPOCH", epoch)  # distinct epochs: no collision to resolve
            _call(port, "CLUSTER", "ADDSLOTS", *range(first, last + 1))  # ADDSLOTSRANGE would need Redis 7
        for port in self._nodes:
            if port != masters[0]:
                _call(masters[0], "CLUSTER", "MEET", HOST, port)
        self._wait_until(self._strangers, "every node knowing every other")
        for index, port in enumerate(replicas):
            master_id = _call(masters[index // self.replicas_per_master], "CLUSTER", "MYID")
            _call(port, "CLUSTER", "REPLICATE", master_id)
        self._wait_until(lambda: self._problems() + self._layout_problems(), "all slots covered")

    def _strangers(self) -> list[str]:
        """Nodes that do not yet know every other node (handshakes still open)."""
        problems = []
        for port in self._nodes:
            known = [row for row in _cluster_view(port) if not row.flags & {"handshake", "noaddr"}]
            if len(known) < len(self._nodes):
                problems.append(f"node {port} knows {len(known)} of {len(self._nodes)} nodes")
        return problems

    def _problems(self) -> list[str]:
        """What keeps the cluster from being up on each live node: [] when every one is."""
        problems = []
        for node in self._live():
            try:
                problems += self._node_problems(node.port)
            except redis.RedisError as exc:
                problems.append(f"node {node.port}: {exc}")
        failing = [n.port for n in self.nodes() if n.alive and n.failing]
        return problems + [f"node {port} flagged failing though it runs" for port in failing] + self._disagreement()

    def _disagreement(self) -> list[str]:
        """Live nodes whose view of roles and slots differs from the first one's (e.g. a restarted master)."""
        views = {}
        for node in self._live():
            try:
                views[node.port] = {(r.id, "master" in r.flags, r.master_id, r.slots) for r in _cluster_view(node.port)
                                    if "handshake" not in r.flags}
            except redis.RedisError:
                continue
        first = next(iter(views.values()), None)
        return [f"node {port} sees another layout" for port, view in views.items() if view != first]

    def _node_problems(self, port: int) -> list[str]:
        info = _cluster_info(port)
        problems = [] if info["cluster_state"] == "ok" else [f"node {port}: cluster_state {info['cluster_state']}"]
        if int(info["cluster_slots_ok"]) != SLOTS:
            problems.append(f"node {port}: {info['cluster_slots_ok']} of {SLOTS} slots served")
        if int(info["cluster_known_nodes"]) < len(self._nodes):
            problems.append(f"node {port}: knows {info['cluster_known_nodes']} of {len(self._nodes)} nodes")
        replication = _info(port, "replication")
        if replication["role"] == "slave" and replication.get("master_link_status") != "up":
            problems.append(f"replica {port}: link to its master {replication.get('master_link_status')}")
        return problems

    def _layout_problems(self) -> list[str]:
        """Masters without their replicas yet (as the first live node sees the cluster)."""
        nodes = self.nodes()
        masters = [n for n in nodes if n.role == "master" and n.slots]
        problems = [] if len(masters) == self.masters else [f"{len(masters)} of {self.masters} masters serve slots"]
        for master in masters:
            count = sum(n.replicates == master.port for n in nodes)
            if count != self.replicas_per_master:
                problems.append(f"master {master.port} has {count} of {self.replicas_per_master} replicas")
        return problems

    def _view(self) -> list[_Row]:
        """CLUSTER NODES from the first live node that answers ([] if none does)."""
        for node in self._live():
            try:
                return _cluster_view(node.port)
            except redis.RedisError:
                continue
        return []

    def nodes(self) -> list[NodeInfo]:
        """Every node of the lab, as the cluster sees it from its first live node, with pid, liveness and keys."""
        rows = {row.port: row for row in self._view() if "handshake" not in row.flags}
        port_of = {row.id: row.port for row in rows.values()}
        return [self._describe(node, rows.get(node.port), port_of) for node in self._nodes.values()]

    def _describe(self, node: RedisProcess, row: _Row | None, port_of: dict[str, int]) -> NodeInfo:
        alive = node.alive()
        if row is None:
            return NodeInfo(node.port, node.pid, alive, "unknown", keys=_dbsize(node.port) if alive else None)
        role = "master" if "master" in row.flags else "replica" if "slave" in row.flags else "unknown"
        return NodeInfo(node.port, node.pid, alive, role, port_of.get(row.master_id), row.slots,
                        _dbsize(node.port) if alive else None, bool(row.flags & {"fail", "fail?"}))

    def kill(self, port: int) -> None:
        """SIGKILL one node by its pid (a crash); for a master, remember its replicas for wait_for_failover."""
        self._heirs[port] = self._replicas_of(port)
        super().kill(port)

    def _replicas_of(self, port: int) -> list[int]:
        """The ports of a node's replicas, from the cluster's view alone.

        Not from nodes(): that asks every node for its key count, and a replica frozen by SIGSTOP
        (the lost-writes lessons freeze one) would hold each kill for the client's 2 s timeout.
        """
        rows = self._view()
        ids = {row.id for row in rows if row.port == port}
        return [row.port for row in rows if row.master_id in ids]

    def wait_for_failover(self, port: int, timeout_s: float = 30.0) -> NodeInfo:
        """After kill(port) of a master: wait until one of its replicas is master and every slot is served again."""
        heirs = self._heirs.get(port)
        if not heirs:
            raise ConfigError(f"node {port} was not killed as a master with replicas; nothing can take over")
        self._wait_until(lambda: self._failover_problems(port, heirs), f"failover of master {port}", timeout_s)
        return next(n for n in self.nodes() if n.port in heirs and n.role == "master")

    def _failover_problems(self, port: int, heirs: list[int]) -> list[str]:
        if not any(n.port in heirs and n.role == "master" and n.slots for n in self.nodes()):
            return [f"no replica of {port} ({', '.join(map(str, heirs))}) promoted yet"]
        return self._problems()

    def restart(self, port: int) -> None:
        """Start a killed node again (empty, same node id); returns once the cluster is whole again."""
        super().restart(port)
        self._wait_until(self._problems, f"node {port} back in the cluster")

    def report(self) -> str:
        """A few lines on the cluster's health and a table of its nodes."""
        live = self._live()
        if not live:
            return "no node of the lab is running\n" + format_nodes(self.nodes())
        try:
            info = _cluster_info(live[0].port)
            health = (f"cluster_state {info['cluster_state']}, {info['cluster_slots_ok']} of {SLOTS} slots served "
                      f"(seen from node {live[0].port})")
        except redis.RedisError as exc:
            health = f"node {live[0].port} does not answer: {exc}"
        return (f"{_count(self.masters, 'master')}, {_count(self.replicas_per_master, 'replica')} each, node timeout "
                f"{self.node_timeout_ms} ms; {health}\n{format_nodes(self.nodes())}\n"
                f"connect: redis-cli -c -p {live[0].port}   or   redis.RedisCluster(host='{HOST}', "
                f"port={live[0].port})")


# A diskless sync streams nothing to a new replica until its first REPLCONF ACK, sent once a second: the
# Sentinel lab's first writes waited up to 1 s for it. A sync through an RDB file does not wait, and
# rdb-del-sync-files removes that file (persistence is off), so a node restarted still comes back empty.
SYNC_ON_DISK = ("--repl-diskless-sync", "no", "--rdb-del-sync-files", "yes")


def _sentinel_id(port: int) -> str:
    """A sentinel's run id (40 hex digits), made from its port so every peer can name it in advance."""
    return f"{port:040x}"


class LocalSentinel(_Lab):
    """One master, `replicas` replicas following it (--replicaof), and `sentinels` sentinels watching it."""

    kind = "sentinel"

    def __init__(self, replicas: int = 2, sentinels: int = 3, quorum: int = 2, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 5000, master_name: str = "whatsapp-cache", timeout_s: float = 30.0,
                 detached: bool = False, priorities: tuple[int, ...] = ()):
        self.replicas = _size(replicas, "replicas", 0, 3)
        # replica-priority per replica, in start order (Sentinel promotes the lowest non-zero first); default 100
        if not isinstance(priorities, (tuple, list)) or len(priorities) > self.replicas:
            raise InvalidInput(f"priorities must be a tuple of at most {self.replicas} numbers, got {priorities!r}")
        self.priorities = tuple(_size(p, "replica priority", 0, 1000) for p in priorities)
        self.sentinel_count = _size(sentinels, "sentinels", 1, 7)
        self.quorum = _size(quorum, "quorum", 1, self.sentinel_count)
        self.down_after_ms = _size(down_after_ms, "down-after (ms)", 100, 60_000)
        # A sentinel that voted for another waits 2 x failover-timeout before it tries again: keep it short.
        self.failover_timeout_ms = _size(failover_timeout_ms, "failover timeout (ms)", 1000, 600_000)
        if not isinstance(master_name, str) or not NAME_PATTERN.fullmatch(master_name):
            raise InvalidInput(f"master name must be 1-64 characters from A-Z a-z 0-9 _ . -, got {master_name!r}")
        self.master_name = master_name
        super().__init__(detached, timeout_s)
        self._killed: int | None = None

    def _options(self) -> dict:
        return {"replicas": self.replicas, "sentinels": self.sentinel_count, "quorum": self.quorum,
                "down_after_ms": self.down_after_ms, "failover_timeout_ms": self.failover_timeout_ms,
                "master_name": self.master_name, "timeout_s": self.timeout_s, "priorities": list(self.priorities)}

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port, node in self._nodes.items() if node.role == "sentinel"]

    def _start(self) -> None:
        ports = _free_ports(1 + self.replicas + self.sentinel_count)
        master = self._add(ports[0], "master", list(SYNC_ON_DISK))
        self._launch([master])
        self._launch([self._add(port, "replica", [*SYNC_ON_DISK, "--replicaof", HOST, str(master.port),
                                                  *self._priority(i)])
                      for i, port in enumerate(ports[1:1 + self.replicas])])
        # Sentinels learn the replicas from the master's INFO, read at once on connecting and then only every
        # 10 s: start them after the replicas are in sync, so the first INFO already lists them all.
        self._wait_until(lambda: self._unsynced(master.port), "replicas in sync with the master")
        sentinels = ports[1 + self.replicas:]
        self._launch([self._add_sentinel(port, master.port, sentinels) for port in sentinels])
        self._wait_until(self._unaware, "every sentinel knowing the master, its replicas and the other sentinels")

    def _priority(self, index: int) -> list[str]:
        return ["--replica-priority", str(self.priorities[index])] if index < len(self.priorities) else []

    def _add_sentinel(self, port: int, master_port: int, sentinels: list[int]) -> RedisProcess:
        conf = self.dir / f"sentinel-{port}" / "sentinel.conf"  # the sentinel rewrites it: it stays in our dir
        node = self._add(port, "sentinel", [str(conf), "--sentinel"])
        name = self.master_name
        # Each sentinel is told its own id and its peers' (known-sentinel, as a sentinel writes them itself):
        # found through hello messages instead, sent every 2 s, they took 2 s to know each other.
        peers = "".join(f"sentinel known-sentinel {name} {HOST} {peer} {_sentinel_id(peer)}\n"
                        for peer in sentinels if peer != port)
        conf.write_text(f"sentinel myid {_sentinel_id(port)}\n"
                        f"sentinel monitor {name} {HOST} {master_port} {self.quorum}\n"
                        f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
                        f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n" + peers)
        return node

    def _unsynced(self, master_port: int) -> list[str]:
        info = _info(master_port, "replication")
        online = sum(info.get(f"slave{i}", {}).get("state") == "online" for i in range(self.replicas))
        if online != self.replicas:
            return [f"{online} of {self.replicas} replicas in sync"]
        return self._unacknowledged(master_port)

    def _unacknowledged(self, master_port: int) -> list[str]:
        """Replicas that do not yet acknowledge the stream: WAIT on a write that leaves no key (a PUBLISH).

        After a full sync the master sends a replica nothing until its first REPLCONF ACK, which the
        replica sends once a second: without this wait a lesson's first writes could lag ~1 s behind.
        """
        if not self.replicas:
            return []
        with connect(master_port) as client:
            client.publish(f"{self.master_name}:lab-ready", "1")
            acknowledged = client.execute_command("WAIT", self.replicas, 50)
        return [] if acknowledged >= self.replicas else [f"{acknowledged} of {self.replicas} replicas acknowledging"]

    def _unaware(self) -> list[str]:
        problems = []
        for node in self._live("sentinel"):
            with connect(node.port) as client:
                seen = client.sentinel_master(self.master_name)
            if seen["num-slaves"] != self.replicas or seen["num-other-sentinels"] != self.sentinel_count - 1:
                problems.append(f"sentinel {node.port} knows {seen['num-slaves']} of {self.replicas} replicas and "
                                f"{seen['num-other-sentinels']} of {self.sentinel_count - 1} other sentinels")
        return problems

    def _reported_master(self, port: int) -> tuple[str, int] | None:
        try:
            with connect(port) as client:
                host, master_port = client.sentinel_get_master_addr_by_name(self.master_name)
            return host, int(master_port)
        except (redis.RedisError, TypeError):
            return None

    def master_address(self) -> tuple[str, int]:
        """The master's (host, port), as the first sentinel that answers reports it."""
        for node in self._live("sentinel"):
            address = self._reported_master(node.port)
            if address is not None:
                return address
        raise ConfigError(f"no sentinel of the lab reports a master named {self.master_name!r}")

    def kill_master(self) -> int:
        """SIGKILL the current master by its pid (a crash); returns its port."""
        port = self.master_address()[1]
        self.kill(port)
        self._killed = port
        return port

    def wait_for_failover(self, timeout_s: float = 30.0) -> tuple[str, int]:
        """After kill_master(): wait until every sentinel reports a promoted replica and the others follow it."""
        if self._killed is None:
            raise ConfigError("kill_master() first")
        self._wait_until(self._failover_problems, f"failover away from master {self._killed}", timeout_s)
        return self.master_address()

    def _failover_problems(self) -> list[str]:
        if self.master_address()[1] == self._killed:
            return [f"sentinels still report the killed master {self._killed}"]
        return self._disagreement()

    def _disagreement(self) -> list[str]:
        """Sentinels reporting different masters, or live nodes not following the one they report."""
        reported = {self._reported_master(node.port) for node in self._live("sentinel")}
        if len(reported) != 1 or None in reported:
            return [f"sentinels report the master at {sorted(map(str, reported))}"]
        new = next(iter(reported))[1]
        expected = {node.port: ("replica", new) for node in self._live() if node.role != "sentinel"}
        expected[new] = ("master", None)
        return [f"node {n.port} is {n.role} of {n.replicates}, not yet {expected[n.port][0]}" for n in self.nodes()
                if n.port in expected and (n.role, n.replicates) != expected[n.port]]

    def restart(self, port: int) -> None:
        """Start a killed node again; an old master comes back as a second master until a sentinel demotes it.

        Returns once it follows the master the sentinels report (they look every 10 s, so that takes up to ~10 s).
        """
        super().restart(port)
        self._wait_until(self._disagreement, f"node {port} following the master again")

    def nodes(self) -> list[NodeInfo]:
        """Master, replicas (role as each reports it now) and sentinels, with pid, liveness and keys."""
        return [self._describe(node) for node in self._nodes.values()]

    def _describe(self, node: RedisProcess) -> NodeInfo:
        alive = node.alive()
        if node.role == "sentinel" or not alive:
            return NodeInfo(node.port, node.pid, alive, "sentinel" if node.role == "sentinel" else "unknown")
        try:
            info = _info(node.port, "replication")
        except redis.RedisError:
            return NodeInfo(node.port, node.pid, alive, "unknown")
        if info["role"] == "master":
            return NodeInfo(node.port, node.pid, alive, "master", keys=_dbsize(node.port))
        linked = info.get("master_link_status") == "up"
        return NodeInfo(node.port, node.pid, alive, "replica" if linked else "replica (link down)",
                        info.get("master_port"), keys=_dbsize(node.port))

    def report(self) -> str:
        """A few lines on which master the sentinels report and a table of the processes."""
        reported = [self._reported_master(node.port) for node in self._live("sentinel")]
        views = ", ".join(f"{a[0]}:{a[1]}" if a else "none" for a in reported) or "no sentinel answers"
        return (f"master {self.master_name!r}, {_count(self.replicas, 'replica')}, "
                f"{_count(self.sentinel_count, 'sentinel')} (quorum {self.quorum}, "
                f"down after {self.down_after_ms} ms); "
                f"sentinels report the master at: {views}\n{format_nodes(self.nodes())}\n"
                f"connect: redis.sentinel.Sentinel({self.sentinels}).master_for({self.master_name!r})")


# --- state files, for `python -m whatsapp_cache cluster up|status|down` ------------------------

LABS = {"cluster": LocalCluster, "sentinel": LocalSentinel}


def default_state_path(kind: str) -> Path:
    """$TMPDIR/whatsapp_cache_lab-<uid>/<kind>.json: per user, so nobody else can plant a state we would act on."""
    return Path(tempfile.gettempdir()) / f"whatsapp_cache_lab-{os.getuid()}" / f"{kind}.json"


def _read_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    if path.stat().st_uid != os.getuid():
        raise ConfigError(f"state file {path} belongs to another user; not acting on it")
    try:
        state = json.loads(path.read_text())
        return state if state.get("kind") in LABS else None
    except (ValueError, AttributeError):
        raise ConfigError(f"state file {path} is not a lab's state; remove it if no lab is running") from None


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=2))
    partial.replace(path)


def _attach(path: Path):
    state = _read_state(path)
    if state is None:
        return None
    try:
        lab = LABS[state["kind"]].attach(state)
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"state file {path} is not a lab's state; remove it if no lab is running") from None
    if not Path(state["dir"]).name.startswith(f"whatsapp_cache_{lab.kind}_"):
        raise ConfigError(f"state file {path} names {state['dir']!r}, not a lab directory; not acting on it")
    return lab


def _down_hint(kind: str, path: Path) -> str:
    where = f" --state {path}" if path != default_state_path(kind) else ""
    return f"python -m whatsapp_cache cluster down{' --sentinel' if kind == 'sentinel' else ''}{where}"


def lab_up(kind: str = "cluster", masters: int = 3, replicas: int = 1, state_path: Path | None = None) -> str:
    """Start a detached lab (processes that outlive this one), record it in the state file, describe it.

    The nodes run `redis-server --daemonize yes`; the JSON state file is what `cluster status` and
    `cluster down` read.
    """
    path = Path(state_path or default_state_path(kind))
    old = _attach(path)
    if old is not None and any(node.alive() for node in old._nodes.values()):
        raise ConfigError(f"a {old.kind} lab is already running (ports {', '.join(map(str, old._nodes))}; state "
                          f"{path}); stop it first: {_down_hint(old.kind, path)}")
    if old is not None:
        old.stop()  # stale: every process is gone; remove its directory
    if kind == "cluster":
        lab = LocalCluster(masters, replicas, detached=True)
    else:
        lab = LocalSentinel(replicas, detached=True)
    started = time.monotonic()
    lab.start()
    try:
        _write_state(path, lab.state())
    except BaseException:
        lab.stop()
        raise
    return (f"{kind} lab up in {time.monotonic() - started:.1f} s (state {path}, files {lab.dir})\n{lab.report()}\n"
            f"stop it with: {_down_hint(kind, path)}")


def lab_status(kind: str = "cluster", state_path: Path | None = None) -> str:
    """Nodes, roles, slots, keys and liveness of the lab a state file records."""
    path = Path(state_path or default_state_path(kind))
    lab = _attach(path)
    if lab is None:
        raise ConfigError(f"no {kind} lab is running (no state file {path})")
    return f"{lab.kind} lab (state {path}, files {lab.dir})\n{lab.report()}"


def lab_down(kind: str = "cluster", state_path: Path | None = None) -> str:
    """Stop the lab a state file records (only its own pids), remove its directory and the state file.

    A pid is signalled only after checking that it is still a redis-server on the recorded port,
    started at the recorded time.
    """
    path = Path(state_path or default_state_path(kind))
    lab = _attach(path)
    if lab is None:
        return f"no {kind} lab to stop (no state file {path})"
    directory, nodes = lab.dir, list(lab._nodes.values())
    started = time.monotonic()
    signalled = lab.stop()
    path.unlink()
    if path == default_state_path(lab.kind):
        with contextlib.suppress(OSError):  # the default directory goes too, once no other lab's state is in it
            path.parent.rmdir()
    gone = [str(node.port) for node in nodes if node.pid not in signalled]
    pids = ", ".join(map(str, signalled)) or "-"
    return (f"{lab.kind} lab down in {time.monotonic() - started:.1f} s: stopped {len(signalled)} redis-server "
            f"process{'es' * (len(signalled) != 1)} (pids {pids}), removed {directory} and {path}"
            + (f"; already gone, left alone: ports {', '.join(gone)}" if gone else ""))
