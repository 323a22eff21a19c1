"""Replication on a local Redis Cluster: replica reads, lag, a stale read, acknowledged writes lost on failover.

Counts are asserted; timings only as positive or ordered. Every lab is stopped by its pids and must
leave no process and no directory behind.
"""

from __future__ import annotations

import pytest

from support import own_cluster, require_redis_server, started_cluster

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.lab.cluster import LocalCluster
from whatsapp_cache.lab.replication import (lost_writes_on_failover, replica_reads, replication_lag, stale_read, tag_on,
                                            wait_cost)


@pytest.fixture(scope="module")
def cluster():
    """One 3 x 1 cluster for the experiments that kill nothing."""
    yield from started_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000)


@pytest.mark.live
@pytest.mark.parametrize("mode, masters, replicas", [("masters", 300, 0), ("round_robin", 150, 150),
                                                     ("replicas", 0, 300)])
def test_reads_land_where_the_client_mode_sends_them(cluster, mode, masters, replicas):
    result = replica_reads(cluster, mode, reads=300, keys=30)
    assert (result.on_masters, result.on_replicas) == (masters, replicas)
    assert sum(gets for _, _, gets in result.per_node) == 300
    if mode != "masters":
        assert all(gets > 0 for _, role, gets in result.per_node if role == "replica")
    assert f"masters served {masters}, replicas {replicas}" in result.describe()


@pytest.mark.live
def test_lag_is_measured_per_write_and_ordered(cluster, figures):
    lag = replication_lag(cluster, writes=100)
    assert lag.writes == 100 and 0 < lag.median_us <= lag.p99_us <= lag.max_us
    assert 0 <= lag.seen_at_first_poll <= 100 and 0 <= lag.under_seed_1ms <= 100 and lag.read_rtt_us > 0
    figures(lag.describe())


@pytest.mark.live
def test_a_held_replica_serves_the_old_value_then_the_new_one(cluster):
    result = stale_read(cluster)
    assert (result.replica_before, result.replica_during, result.replica_after, result.master_value) == \
        ("Available", "Available", "In a meeting", "In a meeting")
    assert result.bytes_behind > 0


@pytest.mark.live
def test_wait_confirms_every_write_on_a_healthy_replica(cluster, figures):
    cost = wait_cost(cluster, writes=100)
    assert cost.confirmed == 100 and cost.plain_median_us > 0 and cost.wait_median_us > 0
    assert cost.plain_median_us <= cost.plain_p99_us and cost.wait_median_us <= cost.wait_p99_us
    figures(cost.describe())


@pytest.mark.live
def test_acknowledged_writes_are_lost_on_failover_and_wait_says_which(figures):
    with own_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000) as lab:
        plain = lost_writes_on_failover(lab, synced=10, cut_off=10)
        assert (plain.acknowledged, plain.lost, plain.confirmed, plain.lost_confirmed) == (20, 10, 0, 0)
        assert len(lab.restart_killed()) == 1  # the victim comes back empty, as its heir's replica

        waited = lost_writes_on_failover(lab, synced=10, cut_off=10, wait_timeout_ms=50)
        assert (waited.acknowledged, waited.confirmed, waited.lost, waited.lost_confirmed) == (20, 10, 10, 0)
        lab.restart_killed()

        frozen_only = lost_writes_on_failover(lab, synced=5, cut_off=5, cut_link=False)
        assert (frozen_only.acknowledged, frozen_only.lost) == (10, 0)  # the bytes sat in its socket buffer
        for result in (plain, waited, frozen_only):
            figures(result.describe())


def test_bad_input_is_refused():
    with pytest.raises(InvalidInput):
        replica_reads("not a lab")
    require_redis_server()
    lab = LocalCluster()  # never started: no processes
    for call in (lambda: replication_lag(lab), lambda: stale_read(lab), lambda: wait_cost(lab),
                 lambda: lost_writes_on_failover(lab)):
        with pytest.raises(InvalidInput):
            call()


@pytest.mark.live
def test_bad_sizes_are_refused_on_a_live_cluster(cluster):
    for call in (lambda: replica_reads(cluster, "nearest"), lambda: replica_reads(cluster, reads=0),
                 lambda: replication_lag(cluster, writes=True), lambda: stale_read(cluster, hold_ms=10),
                 lambda: wait_cost(cluster, timeout_ms=0), lambda: lost_writes_on_failover(cluster, cut_off=-1),
                 lambda: lost_writes_on_failover(cluster, wait_timeout_ms=0)):
        with pytest.raises(InvalidInput):
            call()


def test_a_tag_lands_in_the_given_slot_ranges():
    from redis.crc import key_slot
    tag = tag_on(((10922, 16383),))
    assert 10922 <= key_slot(tag.strip("{}").encode()) <= 16383
