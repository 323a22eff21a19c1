"""WAIT with two replicas on real processes: WAIT 1 confirms writes a failover then loses; WAIT 2 does not.

Live (real redis-server and sentinels): CI runs it with WHATSAPP_CACHE_REQUIRE_LIVE=1, where a skip fails.
"""

from __future__ import annotations

import pytest

from support import require_redis_server

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.lab.cluster import LocalSentinel
from whatsapp_cache.lab import wait_failover
from whatsapp_cache.lab.wait_failover import wait_on_failover


@pytest.mark.live
def test_wait_1_confirms_writes_that_the_promoted_replica_never_had(figures):
    require_redis_server()
    result = wait_on_failover(1, synced=5, cut_off=5)
    assert result.replies[5:] == (1,) * 5  # replica A acknowledged each write, B received none
    assert (result.acknowledged, result.confirmed, result.lost, result.lost_confirmed) == (10, 10, 5, 5)
    assert not result.heir_had_writes  # Sentinel ranks replica-priority before replication offset
    assert result.lost_on_holder == 5  # the replica that acknowledged them resynced from the heir
    assert "lost 5 writes, 5 of them confirmed by WAIT" in result.describe()
    figures(f"WAIT 1 failover (Sentinel): {result.failover_s:.1f} s")


@pytest.mark.live
def test_wait_2_confirms_only_writes_every_replica_has_and_those_survive():
    require_redis_server()
    result = wait_on_failover(2, synced=5, cut_off=5)
    assert result.replies == (2,) * 5 + (1,) * 5
    assert (result.confirmed, result.lost, result.lost_confirmed, result.heir_had_writes) == (5, 5, 0, False)
    assert "one replica cut off: WAIT returned 1 each time, confirmed 0 of 5" in result.describe()


@pytest.mark.parametrize("bad", [dict(numreplicas=0), dict(numreplicas=3), dict(numreplicas=True),
                                 dict(numreplicas=1, cut_off=-1), dict(numreplicas=1, wait_timeout_ms=0)])
def test_bad_input_is_refused_before_any_process_starts(bad):
    with pytest.raises(InvalidInput):
        wait_on_failover(**bad)


def test_sentinel_priorities_are_checked():
    require_redis_server()
    for bad in ((100, 10, 5), (-1,), "10"):
        with pytest.raises(InvalidInput):
            LocalSentinel(replicas=2, priorities=bad)
    assert LocalSentinel(replicas=2, priorities=(100, 10))._priority(1) == ["--replica-priority", "10"]


def test_runs_side_by_side_come_back_by_numreplicas_with_the_same_options(monkeypatch):
    monkeypatch.setattr(wait_failover, "wait_on_failover", lambda n, **options: (n, options))
    assert wait_failover.wait_on_failovers((1, 2), synced=3) == {1: (1, {"synced": 3}), 2: (2, {"synced": 3})}
