"""One-pass exact-LRU hit-ratio curve (stack distances) against hand counts, the Fenwick-tree
reference and a direct OrderedDict replay of an LRU cache."""

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatsapp_cache import InvalidInput
from whatsapp_cache.eviction.curve import (COLD, curve_from_distances, hit_ratio_curve, hits_at,
                                           replay_lru_hits, stack_distances,
                                           stack_distances_reference)


def lru_hits(trace, size):
    """The oracle: an exact LRU cache of `size` keys, replayed request by request."""
    cache, hits = OrderedDict(), 0
    for key in trace:
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        elif size > 0:
            if len(cache) == size:
                cache.popitem(last=False)
            cache[key] = True
    return hits


def zipf_trace(rng, requests, keys, alpha):
    weights = 1.0 / np.arange(1, keys + 1) ** alpha
    cdf = np.cumsum(weights) / weights.sum()
    ranks = np.searchsorted(cdf, rng.random(requests), side="right")
    return rng.permutation(keys)[np.minimum(ranks, keys - 1)]   # popular keys get random ids


def traces():
    """Named seeded traces covering skew, no reuse, only reuse and a tiny alphabet."""
    rng = np.random.default_rng(20240601)
    return {
        "uniform": rng.integers(0, 300, 3000),
        "zipf-0.8": zipf_trace(rng, 4000, 1000, 0.8),
        "zipf-1.2": zipf_trace(rng, 4000, 1000, 1.2),
        "all-distinct": rng.permutation(2500),
        "all-same": np.full(2000, 7),
        "two-keys": rng.integers(0, 2, 1500),
        "loop": np.tile(np.arange(50), 40),                # LRU's worst case below size 50
        "sawtooth": np.concatenate([np.arange(k) for k in range(1, 80)]),
    }


TRACES = traces()


# --- hand-computed ----------------------------------------------------------------------------

def test_hand_computed_distances():
    # a b c a b b d a
    # a, b, c: first requests; a: under c, b -> 3; b: under a, c -> 3; b: on top -> 1;
    # d: first; a: under d, b -> 3
    assert stack_distances(list("abcabbda")).tolist() == [0, 0, 0, 3, 3, 1, 0, 3]
    assert stack_distances(["a", "a", "a", "a"]).tolist() == [0, 1, 1, 1]
    assert stack_distances([1, 2, 1, 2, 3, 1]).tolist() == [0, 0, 2, 2, 0, 3]
    assert stack_distances([]).tolist() == []
    assert stack_distances(["x"]).tolist() == [COLD] == [0]


def test_hand_computed_curve():
    sizes, ratios = hit_ratio_curve(list("abcabbda"))
    assert sizes.tolist() == [1, 2, 3, 4]                  # default: 1 .. distinct keys
    assert (ratios * 8).tolist() == [1, 1, 4, 4]
    sizes, ratios = hit_ratio_curve(list("abcabbda"), [0, 3, 100, 2])
    assert sizes.tolist() == [0, 3, 100, 2]                # in the order given
    assert (ratios * 8).tolist() == [0, 4, 4, 1]
    assert [hits_at(list("abcabbda"), c) for c in range(6)] == [0, 1, 1, 4, 4, 4]


def test_types():
    distances = stack_distances(np.array([5, 6, 5], dtype=np.int32))
    assert distances.dtype == np.int64
    sizes, ratios = hit_ratio_curve([5, 6, 5])
    assert sizes.dtype == np.int64 and ratios.dtype == np.float64
    assert isinstance(hits_at([5, 6, 5], 2), int)


# --- against the reference and the replay -----------------------------------------------------

@pytest.mark.parametrize("name", list(TRACES))
def test_matches_reference_and_replay(name):
    trace = TRACES[name]
    distances = stack_distances(trace)
    assert np.array_equal(distances, stack_distances_reference(trace))
    distinct = len(set(trace.tolist()))
    assert np.count_nonzero(distances == COLD) == distinct
    sizes, ratios = hit_ratio_curve(trace)
    assert np.array_equal(sizes, np.arange(1, distinct + 1))
    checked = sorted({0, 1, 2, 3, distinct // 3, distinct // 2, distinct - 1, distinct, distinct + 5})
    _, some = hit_ratio_curve(trace, checked)
    hits = np.rint(some * len(trace)).astype(int)
    for size, hit in zip(checked, hits):
        assert hit == lru_hits(trace.tolist(), size), size
        assert hits_at(trace, size) == hit
        if 1 <= size <= distinct:
            assert ratios[size - 1] == some[checked.index(size)]
    middle = len(checked) // 2
    assert replay_lru_hits(trace, checked[middle]) == hits[middle]


def test_every_length_around_powers_of_two():
    # the fast algorithm works on blocks of 2**k reuses: the last block is partial at most lengths
    rng = np.random.default_rng(7)
    for length in range(1, 140):
        trace = rng.integers(0, 1 + length // 3, length)
        assert np.array_equal(stack_distances(trace), stack_distances_reference(trace)), length


def test_larger_trace_matches_reference():
    rng = np.random.default_rng(3)
    trace = zipf_trace(rng, 40_000, 5_000, 1.0)            # 16 levels of the radix partition
    assert np.array_equal(stack_distances(trace), stack_distances_reference(trace))


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.integers(0, 12), max_size=60), st.integers(0, 14))
def test_property_equals_lru_replay(trace, size):
    assert hits_at(trace, size) == lru_hits(trace, size)
    assert stack_distances(trace).tolist() == stack_distances_reference(trace).tolist()


@pytest.mark.parametrize("name", list(TRACES))
def test_curve_is_monotonic_and_bounded(name):
    trace = TRACES[name]
    sizes, ratios = hit_ratio_curve(trace)
    assert np.all(np.diff(ratios) >= 0)
    assert ratios[0] >= 0
    # the largest size only misses the first request of each key
    assert ratios[-1] == pytest.approx(1 - len(sizes) / len(trace))
    _, beyond = hit_ratio_curve(trace, [len(sizes), len(sizes) + 1, 10**9])
    assert np.all(beyond == ratios[-1])


def test_curve_from_distances_reuses_one_pass():
    trace = TRACES["zipf-1.2"]
    distances = stack_distances(trace)
    _, ratios = curve_from_distances(distances, [10, 100])
    assert np.array_equal(ratios, hit_ratio_curve(trace, [10, 100])[1])
    assert np.array_equal(curve_from_distances(distances)[0], hit_ratio_curve(trace)[0])


# --- kinds of keys ----------------------------------------------------------------------------

def test_any_hashable_keys():
    ints = [3, 1, 3, 2, 1, 3]
    expected = stack_distances(np.array(ints)).tolist()
    assert expected == [0, 0, 2, 0, 3, 3]
    assert stack_distances([f"user:{k}" for k in ints]).tolist() == expected
    assert stack_distances(np.array([f"user:{k}" for k in ints])).tolist() == expected
    assert stack_distances(np.array([f"k{k}".encode() for k in ints])).tolist() == expected
    assert stack_distances([("chat", k) for k in ints]).tolist() == expected
    assert stack_distances(tuple(ints)).tolist() == expected
    assert stack_distances(np.array(ints, dtype=np.uint64)).tolist() == expected
    assert stack_distances(np.array(ints, dtype=float) / 2).tolist() == expected
    mixed = np.array([None, "a", None, 2, "a", None], dtype=object)
    assert stack_distances(mixed).tolist() == expected
    # keys are equal as in a dict-based cache: 1, 1.0 and True are one key
    assert stack_distances([1, 1.0, True]).tolist() == [0, 1, 1]
    assert stack_distances(range(4)).tolist() == [0, 0, 0, 0]


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("trace", [None, 5, "abcab", b"abc", {"a": 1}, {1, 2}, (k for k in [1, 2]),
                                   np.zeros((2, 2)), np.array(3), [[1], [2]], [{"a"}],
                                   np.array([1.0, np.nan, 1.0]), [1.0, float("nan")],
                                   np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")])
def test_bad_trace(trace):
    with pytest.raises(InvalidInput):
        stack_distances(trace)
    with pytest.raises(InvalidInput):
        hit_ratio_curve(trace)


@pytest.mark.parametrize("sizes", [[-1], [1, 2.5], [True], 3.0, "12", np.ones((2, 2), dtype=int),
                                   {1, 2}])
def test_bad_sizes(sizes):
    with pytest.raises(InvalidInput):
        hit_ratio_curve([1, 2, 1], sizes)


@pytest.mark.parametrize("size", [-1, 1.5, True, None, "3"])
def test_bad_size(size):
    with pytest.raises(InvalidInput):
        hits_at([1, 2, 1], size)
    with pytest.raises(InvalidInput):
        replay_lru_hits([1, 2, 1], size)


def test_bad_other():
    with pytest.raises(InvalidInput, match="empty"):
        hit_ratio_curve([])
    assert hits_at([], 3) == 0
    with pytest.raises(InvalidInput):
        curve_from_distances([0, -1, 1])
    with pytest.raises(InvalidInput):
        curve_from_distances([0.0, 1.0])
    with pytest.raises(ValueError):                        # InvalidInput is a ValueError
        stack_distances(None)
    assert hit_ratio_curve([1, 2, 1], 2)[1].tolist() == [1 / 3]   # one int: a one-size curve
