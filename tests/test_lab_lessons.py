"""Chapter 08's lessons as library calls (lab.lessons): the lines they print, from measured or stand-in results."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from support import started_cluster

from whatsapp_cache.lab import lessons
from whatsapp_cache.lab.replication import LostWrites, ReplicaReads, StaleRead


@pytest.fixture(scope="module")
def cluster():
    yield from started_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000)


@pytest.mark.live
def test_served_counts_the_gets_each_role_served_in_every_mode(cluster):
    assert lessons.served_in_every_mode(cluster).splitlines() == [
        "masters      masters served 300, replicas   0",
        "round_robin  masters served 150, replicas 150",
        "replicas     masters served   0, replicas 300"]


def test_served_and_stale_format_the_measurements(monkeypatch):
    monkeypatch.setattr(lessons, "replica_reads", lambda lab, mode: ReplicaReads(mode, 300, 150, 150, ()))
    monkeypatch.setattr(lessons, "stale_read", lambda lab: StaleRead("new", "old", "old", "new", 40))
    assert lessons.served(None, "round_robin") == "round_robin  masters served 150, replicas 150"
    assert lessons.stale(None).splitlines() == ["master: 'new'", "replica before the write: 'old'",
                                                "replica while its stream is held: 'old'",
                                                "replica after release: 'new'"]


class _NoCluster:
    def __init__(self, **options):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def restart_killed(self):
        return []


@pytest.mark.parametrize("wait, expected", [
    (None, "20 writes acknowledged, 10 lost after the failover"),
    (100, "20 writes acknowledged, 10 lost after the failover; WAIT 1 confirmed 10: lost among those 0, "
          "among the 10 unconfirmed 10")])
def test_crash_splits_the_losses_by_what_wait_confirmed(monkeypatch, wait, expected):
    monkeypatch.setattr(lessons, "LocalCluster", _NoCluster)
    monkeypatch.setattr(lessons, "lost_writes_on_failover", lambda lab, synced, cut_off, wait_timeout_ms: LostWrites(
        synced, cut_off, True, wait_timeout_ms is not None, 10 if wait_timeout_ms else 0, 10, 0, 2.0))
    assert lessons.crash(wait_timeout_ms=wait) == expected


def test_spread_lists_calls_and_members_per_master(monkeypatch):
    rows = ((1, 0, 0, 0), (2, 0, 110, 343_210), (3, 0, 90, 281_710))
    monkeypatch.setattr(lessons, "big_group_load", lambda lab, members, shards, reads: SimpleNamespace(rows=rows))
    assert lessons.spread(None, 32) == "32 sub-sets SMEMBERS per master 0 / 110 / 90, members sent 0 / 343,210 / 281,710"
    assert lessons.spread(None, 1).startswith("one set     SMEMBERS")


def test_counted_keeps_the_counts_two_runs_must_share():
    row = SimpleNamespace(data_type="profiles", requests=10, hits=7, misses=3, db_queries=3, round_trips=16,
                          latency_ms=1.5)
    assert lessons.counted([row]) == [("profiles", 10, 7, 3, 3, 16)]


def test_describe_failover_prints_three_lines():
    report = SimpleNamespace(requests=1_234, failed=0, fallbacks=321, recovery_s=None, lost_writes=0, stale=2,
                             failover={"cache_writes": {"without_wait": {"lost": 10, "acknowledged": 20},
                                                        "with_wait": {"lost_confirmed": 0, "confirmed": 10}}})
    assert lessons.describe_failover(report).splitlines() == [
        "requests attempted 1,234, failed 0, served from the database 321",
        "hit ratio back never after the outage; lost writes 0, stale entries 2",
        "acknowledged cache writes lost: without WAIT 10 of 20, among those WAIT confirmed 0 of 10"]


def test_crash_on_the_chapters_lab_restarts_the_killed_master(monkeypatch):
    restarted = []
    lab = SimpleNamespace(restart_killed=lambda: restarted.append("yes") or [1234])
    monkeypatch.setattr(lessons, "LocalCluster", None)  # no fresh cluster may be started
    monkeypatch.setattr(lessons, "lost_writes_on_failover", lambda lab, synced, cut_off, wait_timeout_ms: LostWrites(
        synced, cut_off, True, False, 0, 10, 0, 2.0))
    assert lessons.crash(lab=lab) == "20 writes acknowledged, 10 lost after the failover"
    assert restarted == ["yes"]


def test_describe_failover_without_raw_cache_writes_prints_two_lines():
    report = SimpleNamespace(requests=3_512, failed=0, fallbacks=256, recovery_s=0, lost_writes=0, stale=0,
                             failover={"old_master_restarted": True})
    assert lessons.describe_failover(report).splitlines() == [
        "requests attempted 3,512, failed 0, served from the database 256",
        "hit ratio back 0 simulated s after the outage; lost writes 0, stale entries 0"]


def _report(hit_ratio, fallbacks, reads, per_s):
    during = SimpleNamespace(hit_ratio=hit_ratio, fallbacks=fallbacks, reads=reads, db_queries_per_s=per_s)
    return SimpleNamespace(phase=lambda name: during, failed=0)


def test_breakers_reuses_the_per_node_run_it_is_given_and_runs_only_the_other(monkeypatch):
    runs = []

    def run_failover(spec, lab, lost_writes, policy):
        runs.append((lab, lost_writes, policy.breaker_per_node))
        return _report(0.008, 898, 910, 12.7)

    monkeypatch.setattr(lessons, "run_failover", run_failover)
    lines = lessons.breakers("the lab", "a spec", _report(0.495, 255, 910, 6.2)).splitlines()
    assert runs == [("the lab", False, False)]
    assert lines == [
        "a breaker per node       during the failover: hit ratio 49.5%, 255 of 910 reads from the database, "
        "6.2 queries/s; failed 0",
        "one breaker per process  during the failover: hit ratio 0.8%, 898 of 910 reads from the database, "
        "12.7 queries/s; failed 0"]
    lessons.breakers("the lab", "a spec")
    assert [per_node for _, _, per_node in runs[1:]] == [True, False]
