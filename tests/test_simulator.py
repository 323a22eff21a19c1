"""simulate(): tiny traces traced by hand, the result record and table, bad input, the Redis dispatch."""

import dataclasses
import types

import numpy as np
import pytest

import whatsapp_cache.eviction.simulator as simulator
from whatsapp_cache import InvalidInput
from whatsapp_cache.eviction import POLICIES, LRUCache, SimulationResult, format_results, replay, simulate

TRACE = list("abacbda")


@pytest.mark.parametrize("policy, hits, evicted", [
    # size 2:     a    b    a    c       b       d       a
    ("lru", 1, 4),   # miss miss hit  miss -b miss -a miss -c miss -b
    ("fifo", 2, 3),  # miss miss hit  miss -a hit   miss -b miss -c
    ("lfu", 2, 3),   # miss miss hit  miss -b miss -c miss -b hit (a has 2 uses)
])
def test_a_tiny_trace_by_hand(policy, hits, evicted):
    result = simulate(TRACE, policy, 2)
    assert (result.hits, result.misses, result.evictions) == (hits, 7 - hits, evicted)
    assert (result.policy, result.size, result.requests) == (policy, 2, 7)
    assert result.hit_ratio == hits / 7


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo"])
def test_a_cache_that_holds_every_key_misses_each_key_once(policy):
    result = simulate([3, 1, 3, 2, 1, 3, 2], policy, 3)
    assert (result.hits, result.misses, result.evictions) == (4, 3, 0)


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo"])
def test_a_cache_of_one_hits_only_repeats(policy):
    result = simulate([1, 1, 2, 1, 1, 1, 2, 2], policy, 1)
    assert (result.hits, result.misses, result.evictions) == (4, 4, 3)


def test_numpy_arrays_lists_tuples_and_any_hashable_keys():
    array = np.array([5, 6, 5, 7, 6, 5], dtype=np.int64)
    expected = simulate(array.tolist(), "lru", 2)
    assert simulate(array, "lru", 2) == expected == simulate(tuple(array.tolist()), "lru", np.int64(2))
    assert simulate([("u", 1), "x", ("u", 1)], "lfu", 2).hits == 1


def test_an_empty_trace_has_no_hits_and_a_zero_ratio():
    assert simulate([], "fifo", 10) == SimulationResult("fifo", 10, 0, 0, 0, 0.0, 0)


def test_the_result_is_frozen_and_turns_into_a_dict():
    result = simulate(TRACE, "lru", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.hits = 0
    assert result.to_dict() == {"policy": "lru", "size": 2, "requests": 7, "hits": 1, "misses": 6,
                                "hit_ratio": 1 / 7, "evictions": 4}


def test_format_results_is_a_fixed_width_table():
    results = [simulate(TRACE, policy, 2) for policy in ("lru", "lfu", "fifo")]
    lines = format_results(results).splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1
    assert lines[0].split() == ["policy", "size", "hit", "ratio", "hits", "misses", "evictions", "requests"]
    assert lines[1].split() == ["lru", "2", "0.1429", "1", "6", "4", "7"]


def test_replay_drives_any_cache_mapping_the_same_way():
    cache = LRUCache(2)
    cache["z"] = True  # a warm cache: evictions count only what this replay pushed out
    assert replay(cache, TRACE) == (1, 6, 5)


@pytest.mark.parametrize("size", [0, -3, 1.5, "2", None, True])
def test_size_must_be_a_positive_integer(size):
    with pytest.raises(InvalidInput, match="size"):
        simulate(TRACE, "lru", size)


@pytest.mark.parametrize("policy", ["LRU", "arc", "", None, "redis"])
def test_policy_must_be_one_of_the_known_ones(policy):
    with pytest.raises(InvalidInput, match="policy"):
        simulate(TRACE, policy, 2)


@pytest.mark.parametrize("trace", [np.zeros((2, 3), dtype=np.int64), "abc", 5, {1, 2}])
def test_trace_must_be_a_one_dimensional_sequence(trace):
    with pytest.raises(InvalidInput, match="trace"):
        simulate(trace, "lru", 2)


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo"])
def test_keys_must_be_hashable(policy):
    with pytest.raises(InvalidInput, match="hashable"):
        simulate([1, [2], 1], policy, 2)


def test_exact_policies_take_no_options():
    with pytest.raises(InvalidInput, match="options"):
        simulate(TRACE, "lfu", 2, samples=5)


@pytest.fixture
def fake_redis_models(monkeypatch):
    """A stand-in for redis_models that records how each model was built and what it replayed."""
    built = []

    class Model:
        def __init__(self, size, samples=5, seed=0, **options):
            built.append((type(self).__name__, size, dict(samples=samples, seed=seed, **options)))

        def replay(self, trace):
            built.append(list(trace))
            return 3, 4, 2

    module = types.SimpleNamespace(RedisLRUModel=type("RedisLRUModel", (Model,), {}),
                                   RedisLFUModel=type("RedisLFUModel", (Model,), {}))
    monkeypatch.setattr(simulator, "redis_models", module)
    return built


def test_redis_policies_dispatch_to_the_models_with_their_options(fake_redis_models):
    result = simulate(np.array([1, 2, 1, 3, 2, 1, 4]), "redis-lfu", 3, samples=10, log_factor=5, seed=7)
    assert fake_redis_models == [("RedisLFUModel", 3, {"samples": 10, "seed": 7, "log_factor": 5}),
                                 [1, 2, 1, 3, 2, 1, 4]]
    assert result == SimulationResult("redis-lfu", 3, 7, 3, 4, 3 / 7, 2)
    assert simulate(TRACE, "redis-lru", 2).policy == "redis-lru"
    assert fake_redis_models[2][0] == "RedisLRUModel"


def test_every_policy_runs_end_to_end_on_a_zipf_trace():
    trace = np.random.default_rng(0).zipf(1.2, 5_000) % 1_000
    for policy in POLICIES:
        result = simulate(trace, policy, 100)
        assert result.hits + result.misses == result.requests == 5_000 and 0 < result.hit_ratio < 1
        assert result == simulate(trace, policy, 100), "seeded: the same run twice gives the same result"
