"""The local lab: a Redis Cluster, or a master with replicas and Sentinel, of real redis-server processes.

Each setup starts on free ports and stops by its own pids; every test checks that nothing is left:
no process running, no temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.sentinel import Sentinel

from support import leftovers, own_cluster, require_redis_server, running, started_cluster, stopped

from whatsapp_cache.cli import main
from whatsapp_cache.errors import ConfigError, InvalidInput
from whatsapp_cache.lab import cluster as cluster_module
from whatsapp_cache.lab.cluster import SLOTS, LocalCluster, LocalSentinel, describe_layout
from whatsapp_cache.lab.process import RedisProcess


def cluster_client(lab: LocalCluster) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in lab.startup_nodes],
                        decode_responses=True, socket_timeout=2)


@pytest.fixture(scope="module")
def cluster():
    """One 3 x 1 cluster shared by the tests that only read it; its teardown checks that stop() leaves nothing."""
    yield from started_cluster(masters=3, replicas_per_master=1)


@pytest.mark.live
def test_cluster_serves_every_slot_with_one_replica_per_master(cluster):
    nodes = cluster.nodes()
    masters = [node for node in nodes if node.role == "master"]
    assert len(nodes) == 6 and all(node.alive and not node.failing for node in nodes)
    assert sorted(slot for m in masters for first, last in m.slots for slot in range(first, last + 1)) == \
        list(range(SLOTS))
    for master in masters:
        assert len([node for node in nodes if node.replicates == master.port]) == 1
    assert cluster.url == f"redis://127.0.0.1:{masters[0].port}/0"


@pytest.mark.live
def test_keys_written_through_the_cluster_client_read_back_from_their_masters(cluster):
    client = cluster_client(cluster)
    try:
        for i in range(30):
            client.set(f"user:{i}", f"value {i}")
        assert [client.get(f"user:{i}") for i in range(30)] == [f"value {i}" for i in range(30)]
    finally:
        client.close()
    keys = [node.keys for node in cluster.nodes() if node.role == "master"]
    assert sum(keys) == 30 and all(keys)  # spread over all three masters


@pytest.mark.live
@pytest.mark.parametrize("flags", [[], ["--sentinel"]], ids=["cluster", "sentinel"])
def test_cli_up_status_down_leaves_nothing_behind(tmp_path, capsys, figures, flags):
    require_redis_server()
    state = tmp_path / "lab.json"
    command = ["cluster", "--state", str(state), *flags]
    pids, directory = [], None
    try:
        started = time.monotonic()
        assert main([*command[:1], "up", *command[1:]]) == 0
        up_s = time.monotonic() - started
        recorded = json.loads(state.read_text())
        pids, directory = [node["pid"] for node in recorded["nodes"]], Path(recorded["dir"])
        assert len(pids) == 6 and all(map(running, pids)) and directory.is_dir()
        assert ("16384 of 16384 slots served" if not flags else "2 replicas, 3 sentinels") in capsys.readouterr().out
        assert main([*command[:1], "up", *command[1:]]) == 2
        assert "already running" in capsys.readouterr().err
        assert main([*command[:1], "status", *command[1:]]) == 0
        status = capsys.readouterr().out
        assert all(str(pid) in status for pid in pids) and " NO " not in status
    finally:
        started = time.monotonic()
        code = main([*command[:1], "down", *command[1:]])
        down_s = time.monotonic() - started
    assert code == 0 and "stopped 6 redis-server processes" in capsys.readouterr().out
    assert leftovers(pids, directory) == [] and not state.exists()
    figures(f"lab: `cluster up{' --sentinel' if flags else ''}` took {up_s:.1f} s, `down` {down_s:.1f} s")


@pytest.mark.live
def test_down_leaves_alone_a_recorded_pid_that_is_no_longer_the_labs_redis(tmp_path, capsys):
    require_redis_server()
    directory = tmp_path / "whatsapp_cache_cluster_stale"
    directory.mkdir()
    stranger = subprocess.Popen(["sleep", "30"])
    other = RedisProcess().start()
    try:
        nodes = [{"port": 7001, "pid": stranger.pid}, {"port": other.port + 1, "pid": other.process.pid}]
        state = {"kind": "cluster", "dir": str(directory), "options": {"masters": 1, "replicas_per_master": 1},
                 "nodes": [{**node, "started": None, "role": "master", "home": str(directory), "args": []}
                           for node in nodes]}
        (tmp_path / "lab.json").write_text(json.dumps(state))
        assert main(["cluster", "down", "--state", str(tmp_path / "lab.json")]) == 0
        assert "stopped 0 redis-server processes" in capsys.readouterr().out
        assert stranger.poll() is None and other.client().ping() and not directory.exists()
    finally:
        stranger.kill()
        stranger.wait()
        other.stop()


@pytest.mark.live
def test_killing_a_master_promotes_its_replica_and_the_data_survives(figures, monkeypatch):
    with own_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000) as lab:
        victim = next(node for node in lab.nodes() if node.role == "master")
        heir = next(node.port for node in lab.nodes() if node.replicates == victim.port)
        first, last = victim.slots[0]
        key = next(f"k{i}" for i in range(1000) if first <= key_slot(f"k{i}".encode()) <= last)
        with redis.Redis(port=victim.port) as direct:
            direct.set(key, "kept")
            assert direct.wait(1, 2000) == 1  # on the replica before the crash
        with monkeypatch.context() as patched:  # kill() finds the heirs from the cluster's view alone, asking no
            patched.setattr(cluster_module, "_dbsize", None)  # node for its keys (a frozen one would stall it)
            lab.kill(victim.port)
        assert not running(victim.pid)
        started = time.monotonic()
        promoted = lab.wait_for_failover(victim.port, timeout_s=20)
        took = time.monotonic() - started
        assert promoted.port == heir and promoted.slots == victim.slots
        client = cluster_client(lab)
        try:
            assert client.get(key) == "kept"
        finally:
            client.close()
        lab.restart(victim.port)  # back empty, as a replica of the node that took its place
        assert next(n for n in lab.nodes() if n.port == victim.port).replicates == heir
        figures(f"lab: cluster failover after SIGKILL of a master: {took:.1f} s (cluster-node-timeout 1000 ms)")


@pytest.mark.live
def test_sentinel_promotes_a_replica_when_the_master_dies(figures):
    require_redis_server()
    lab = LocalSentinel(replicas=2, sentinels=3, quorum=2, down_after_ms=1000)
    try:
        lab.start()
        host, old = lab.master_address()
        replicas = [node.port for node in lab.nodes() if node.role == "replica"]
        assert host == "127.0.0.1" and len(replicas) == 2 and len(lab.sentinels) == 3
        with redis.Redis(port=old) as master:
            master.set("status:u1", "online")
            assert master.wait(2, 2000) == 2
        assert lab.kill_master() == old
        started = time.monotonic()
        new = lab.wait_for_failover(timeout_s=30)
        took = time.monotonic() - started
        assert new[1] in replicas
        assert Sentinel(lab.sentinels).discover_master(lab.master_name) == new
        with redis.Redis(port=new[1], decode_responses=True) as master:
            assert master.get("status:u1") == "online"
        started = time.monotonic()
        lab.restart(old)  # a second master until a sentinel demotes it
        demoted = time.monotonic() - started
        assert next(n for n in lab.nodes() if n.port == old).replicates == new[1]
        figures(f"lab: sentinel failover after SIGKILL of the master: {took:.1f} s (down-after 1000 ms); "
                f"the old master, restarted, was demoted after {demoted:.1f} s")
    finally:
        assert stopped(lab) == []


@pytest.mark.live
def test_a_cluster_not_ready_in_time_is_a_clear_error_and_leaves_nothing():
    require_redis_server()
    lab = LocalCluster(masters=1, replicas_per_master=0, timeout_s=0.5)
    with pytest.raises(ConfigError, match="not reached within 0.5 s; still node .*cluster_state fail"):
        lab.start()  # a new master reports cluster_state ok only 2 s after it started
    assert lab.dir is None and leftovers([node.pid for node in lab.nodes()], None) == []


def test_without_a_redis_server_binary_the_error_says_so(monkeypatch):
    monkeypatch.setattr("whatsapp_cache.lab.process.shutil.which", lambda name: None)
    for make in (LocalCluster, LocalSentinel):
        with pytest.raises(ConfigError, match="no redis-server binary"):
            make()


def test_sizes_out_of_range_are_refused(capsys):
    with pytest.raises(InvalidInput):
        LocalCluster(masters=0)
    with pytest.raises(InvalidInput):
        LocalSentinel(replicas=1, sentinels=3, quorum=4)
    for argv in (["--masters", "11"], ["--replicas", "4"], ["--sentinel", "--masters", "2"]):
        assert main(["cluster", "up", *argv]) == 2
        assert capsys.readouterr().err.startswith("whatsapp-cache: error: --")


def test_status_without_a_lab_is_a_clear_error_and_down_has_nothing_to_do(tmp_path, capsys):
    assert main(["cluster", "status", "--state", str(tmp_path / "none.json")]) == 2
    assert "no cluster lab is running" in capsys.readouterr().err
    assert main(["cluster", "down", "--state", str(tmp_path / "none.json")]) == 0
    assert "no cluster lab to stop" in capsys.readouterr().out
    assert not os.listdir(tmp_path)


def test_the_layout_names_no_port_and_counts_every_slot(cluster):
    text = describe_layout(cluster.nodes())
    assert text.splitlines() == [
        "master 1: slots 0-5460, 1 replica" + text.splitlines()[0].split("1 replica", 1)[1],
        "master 2: slots 5461-10921, 1 replica" + text.splitlines()[1].split("1 replica", 1)[1],
        "master 3: slots 10922-16383, 1 replica" + text.splitlines()[2].split("1 replica", 1)[1],
        f"{SLOTS} of {SLOTS} slots served",
    ]
    assert not any(str(node.port) in text for node in cluster.nodes())
