"""The fleet experiment: pub/sub keeps local caches fresh; outages are bounded by the safety TTL."""

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.invalidation.fleet import FleetSpec, compare_fleet


def test_pubsub_beats_local_ttl_alone(figures):
    pubsub, ttl_only = compare_fleet(FleetSpec(operations=1500, outage_s=None, seed=2))
    for r in (pubsub, ttl_only):
        figures(f"fleet {r.mode:<15} stale reads {r.stale_share:6.1%}  longest {r.longest_stale_ms:>6} ms")
    assert pubsub.stale_share < 0.02 < ttl_only.stale_share
    assert pubsub.longest_stale_ms <= 2 * 100 + 1000  # delivery delay, not the TTL
    assert pubsub.invalidations > 0 == ttl_only.invalidations


@pytest.mark.parametrize("ttl_s", [5, 20])
def test_an_outage_is_bounded_by_the_safety_ttl(ttl_s):
    (pubsub,) = compare_fleet(FleetSpec(operations=2000, local_ttl_s=ttl_s, outage_s=(30, 150), seed=1), ["pub/sub"])
    assert pubsub.flushes == 1
    assert 0 < pubsub.longest_stale_ms <= ttl_s * 1000


def test_fleet_runs_are_repeatable():
    spec = FleetSpec(operations=500, seed=4)
    assert compare_fleet(spec) == compare_fleet(spec)


def test_bad_fleet_settings_are_rejected():
    for bad in (dict(mode="gossip"), dict(servers=0), dict(write_share=2), dict(local_ttl_s=0)):
        with pytest.raises(InvalidInput):
            FleetSpec(**bad)
