"""Sampled LRU's quality depends on residence time: keys resident 0.03 s all look equally idle, hours apart rank well."""

from __future__ import annotations

import pytest

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.eviction import workloads
from whatsapp_cache.eviction.idleness import format_regimes, idle_regimes, residence_seconds


@pytest.fixture(scope="module")
def regimes():
    trace = workloads.zipf(10_000, 100_000, alpha=1.0, seed=0)
    return idle_regimes(trace, 1_000, residences_s=(0.03, 1.0, 8 * 3_600.0))


def test_keys_resident_a_fraction_of_a_second_are_evicted_at_random(regimes):
    short = regimes[0]
    assert short.residence_s == pytest.approx(0.027, abs=0.002)
    assert short.tied_share == 1.0 and short.median_spread_s == 0  # every sampled key reads 0 s idle
    assert short.hit_ratio == short.random == pytest.approx(0.6203, abs=1e-4)


def test_keys_resident_a_second_are_half_tied(regimes):
    second = regimes[1]
    assert 0.9 < second.residence_s < 1.1
    assert 0.4 < second.tied_share < 0.6
    assert second.random < second.hit_ratio < second.exact_lru


def test_keys_resident_for_hours_show_idle_times_hours_apart_and_rank_well(regimes):
    hours = regimes[2]
    assert 7 * 3_600 < hours.residence_s < 9 * 3_600
    assert hours.tied_share < 0.01 and hours.median_spread_s > 3_600
    assert hours.exact_lru == pytest.approx(0.6752, abs=1e-4)
    assert hours.hit_ratio == pytest.approx(0.6716, abs=1e-4) and hours.share_of_gap > 0.9
    assert "8.2 h" in format_regimes(regimes)


def test_residence_is_keys_over_evictions_per_second():
    assert residence_seconds(1_000, 35_000) == pytest.approx(0.0286, abs=1e-4)
    assert residence_seconds(425e9 / 4_000, 1_500_000 / 40 * 0.10) / 3_600 == pytest.approx(7.87, abs=0.01)
    for bad in ((0, 1), (1, 0), (-1, 5)):
        with pytest.raises(InvalidInput):
            residence_seconds(*bad)


@pytest.mark.parametrize("bad", [dict(trace=[]), dict(trace=[1, 2], residences_s=()),
                                 dict(trace=[1, 2], residences_s=(0,)), dict(trace=[1, 2], residences_s=(True,))])
def test_bad_input_is_refused(bad):
    with pytest.raises(InvalidInput):
        idle_regimes(**bad)
