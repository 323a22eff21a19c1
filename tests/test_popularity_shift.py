"""A popularity shift: LRU recovers within a window, LFU's stale counts hold it back (chapter 04)."""

from __future__ import annotations

import numpy as np
import pytest

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.eviction.simulator import hit_ratio_over_time
from whatsapp_cache.eviction.workloads import shifting_zipf, zipf


def _top(trace: np.ndarray, count: int = 10) -> set[int]:
    ids, hits = np.unique(trace, return_counts=True)
    return set(ids[np.argsort(hits)[::-1][:count]].tolist())


def test_the_shift_replaces_the_popular_keys_and_keeps_the_skew():
    trace = shifting_zipf(10_000, 100_000, alpha=1.0, shift_at=0.5, seed=0)
    assert np.array_equal(trace, shifting_zipf(10_000, 100_000, alpha=1.0, shift_at=0.5, seed=0))
    before, after = trace[:50_000], trace[50_000:]
    assert not _top(before) & _top(after)
    share = [np.sort(np.unique(half, return_counts=True)[1])[::-1][:100].sum() / len(half) for half in (before, after)]
    assert share[0] == pytest.approx(share[1], abs=0.02)
    assert not np.array_equal(shifting_zipf(1_000, 1_000, shift_at=1.0, seed=0)[:10], trace[:10])


@pytest.fixture(scope="module")
def over_time():
    return hit_ratio_over_time(shifting_zipf(10_000, 100_000, alpha=1.0, shift_at=0.5, seed=0), 1_000, windows=20)


def test_lru_is_back_within_one_window_after_the_shift(over_time):
    lru = over_time["lru"]
    steady = lru[1:10].mean()
    assert lru[10] > steady - 0.05 and lru[11:].mean() == pytest.approx(steady, abs=0.01)


def test_lfu_wins_before_the_shift_and_loses_after_it(over_time):
    lfu, lru, fifo = over_time["lfu"], over_time["lru"], over_time["fifo"]
    assert lfu[1:10].mean() > lru[1:10].mean() > fifo[1:10].mean()
    assert lfu[10] < lfu[1:10].mean() - 0.25  # stale counts keep the old favourites resident
    assert lfu[-1] < lru[-1] - 0.1 and lfu[-1] < fifo[-1]  # still behind 50,000 requests later
    assert [round(float(lfu[i]), 2) for i in (9, 10, 19)] == [0.74, 0.41, 0.51]


def test_without_a_shift_lfu_keeps_its_lead(over_time):
    steady = hit_ratio_over_time(zipf(10_000, 100_000, alpha=1.0, seed=0), 1_000, windows=20)
    assert steady["lfu"][10:].mean() > steady["lru"][10:].mean()


@pytest.mark.parametrize("windows", [0, True, 2.5, 10**9])
def test_bad_windows_are_refused(windows):
    with pytest.raises(InvalidInput):
        hit_ratio_over_time([1, 2, 3], 1, windows=windows)


def test_bad_shift_is_refused():
    for bad in (-0.1, 1.5, "half"):
        with pytest.raises(InvalidInput):
            shifting_zipf(100, 100, shift_at=bad)
