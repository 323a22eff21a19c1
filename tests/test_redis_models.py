"""Models of Redis' sampled LRU and LFU: counter arithmetic, the eviction pool, and live Redis itself."""

import random
import time
from collections import OrderedDict

import numpy as np
import pytest

from whatsapp_cache import ConfigError, InvalidInput
from whatsapp_cache.eviction.live import replay_on_redis
from whatsapp_cache.eviction.redis_models import (LFU_INIT_VAL, RedisLFUModel, RedisLRUModel, lfu_decr,
                                                  lfu_increment_probability, lfu_log_incr)
from whatsapp_cache.eviction.workloads import zipf
from whatsapp_cache.lab.process import RedisProcess, available

MODELS = [RedisLRUModel, RedisLFUModel]
BOTH_SAMPLERS = [(model, sampling) for model in MODELS for sampling in ("uniform", "dict")]


@pytest.fixture(scope="module")
def trace():
    return zipf(20_000, 60_000, 1.0, seed=0)


def exact_lru_hits(trace, size):
    cache, hits = OrderedDict(), 0
    for key in trace:
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        else:
            cache[key] = None
            if len(cache) > size:
                cache.popitem(last=False)
    return hits


def test_increment_chance_is_one_up_to_the_initial_value_then_falls():
    assert lfu_increment_probability(0, 10) == lfu_increment_probability(LFU_INIT_VAL, 10) == 1.0
    assert lfu_increment_probability(6, 10) == pytest.approx(1 / 11)
    assert lfu_increment_probability(105, 10) == pytest.approx(1 / 1001)
    assert lfu_increment_probability(200, 0) == 1.0 and lfu_increment_probability(255, 0) == 0.0
    assert lfu_log_incr(255, 0, random.Random(0)) == 255 and lfu_log_incr(7, 0, random.Random(0)) == 8


def test_decay_takes_one_per_period_and_stops_at_zero():
    assert lfu_decr(20, 5, 1) == 15 and lfu_decr(20, 5, 2) == 18 and lfu_decr(3, 50, 1) == 0
    assert lfu_decr(20, 1_000, 0) == 20  # lfu-decay-time 0: never decays


def test_a_new_key_starts_at_the_initial_value_and_its_first_hit_always_counts():
    model = RedisLFUModel(10)
    model.replay(["k"])
    assert model.frequency("k") == LFU_INIT_VAL
    model.replay(["k"])
    assert model.frequency("k") == LFU_INIT_VAL + 1


def test_counter_is_logarithmic_about_a_million_hits_reach_255():
    """redis.conf's table for lfu-log-factor 10: 100 hits -> 10, 1K -> 18, 100K -> 142, 1M -> 255."""
    model = RedisLFUModel(1, log_factor=10, decay_minutes=0, seed=0)  # a million requests would make a minute
    seen = {}
    for hits in (100, 1_000, 100_000, 1_000_000):
        model.replay(["hot"] * (hits - model.requests + 1))  # the first request is the miss
        seen[hits] = model.frequency("hot")
    assert 8 <= seen[100] <= 12 and 15 <= seen[1_000] <= 22 and 135 <= seen[100_000] <= 155
    assert seen[1_000_000] == 255


def test_log_factor_zero_counts_every_hit():
    model = RedisLFUModel(1, log_factor=0)
    model.replay(["k"] * 101)
    assert model.frequency("k") == LFU_INIT_VAL + 100


def test_counters_decay_with_idle_minutes():
    model = RedisLFUModel(10, log_factor=0, decay_minutes=2)
    model.replay(["k"] * 21, seconds=[0] * 21)  # counter 5 + 20
    assert model.frequency("k") == 25
    model.replay(["other"], seconds=[600])  # ten minutes later: five periods of two minutes
    assert model.frequency("k") == 20
    model.replay(["k"], seconds=[600])  # an access applies the decay, then counts
    assert model.frequency("k") == 21


def test_decay_defaults_to_never_within_a_300k_trace():
    model = RedisLFUModel(10, log_factor=0)
    model.replay(["k"] * 21 + ["other"] * 299_979)
    assert model.frequency("k") == 25  # a million requests make a minute by default


def test_lru_idle_time_counts_requests_or_clock_ticks():
    model = RedisLRUModel(10)
    model.replay(["a", "b", "c"])
    assert (model.idle("a"), model.idle("c")) == (2, 0)
    coarse = RedisLRUModel(10, requests_per_second=2)
    coarse.replay(["a", "b", "c", "d", "e"])  # ticks 0 0 1 1 2
    assert (coarse.idle("a"), coarse.idle("c"), coarse.idle("e")) == (2, 1, 0)
    timed = RedisLRUModel(10)
    timed.replay(["a", "b"], seconds=[100, 107])
    assert timed.idle("a") == 7


@pytest.mark.parametrize("model, sampling", BOTH_SAMPLERS)
def test_once_full_every_miss_evicts_exactly_one_key(model, sampling, trace):
    cache = model(1_000, seed=3, sampling=sampling)
    hits, misses, evictions = cache.replay(trace)
    assert hits + misses == len(trace) and evictions == misses - 1_000 and len(cache) == 1_000


@pytest.mark.parametrize("model, sampling", BOTH_SAMPLERS)
def test_the_pool_stays_sorted_bounded_and_outlives_each_eviction(model, sampling):
    cache = model(100, samples=5, sampling=sampling)
    cache.replay(list(range(101)))
    assert len(cache.pool) == 4  # five sampled into an empty pool, the best evicted
    cache.replay(list(range(101, 103)))
    assert len(cache.pool) == 12
    for start in range(103, 2_000, 50):
        cache.replay(list(range(start, start + 50)))
        scores = [score for score, _ in cache.pool]
        assert scores == sorted(scores) and len(scores) <= 15


def test_a_pool_entry_keeps_its_stale_score_so_a_key_used_since_can_be_evicted():
    """Redis re-checks only that a pooled key exists: here it evicts a key hit 20 times, not the new one."""
    cache = RedisLFUModel(3, samples=5, log_factor=0)
    cache.replay(["a", "b", "c", "d"])  # d goes over: all four sampled at 255 - 5, one evicted
    pooled = [key for _, key in cache.pool]
    assert len(pooled) == 3 and set(pooled) == set(cache.keys())
    cache.replay(pooled * 20)
    assert all(cache.frequency(key) == 25 for key in pooled)
    assert [score for score, _ in cache.pool] == [250, 250, 250]  # not refreshed
    cache.replay(["e"])  # e (250) is pooled left of the stale 250s: a stale entry is the pick
    assert "e" in cache and len(cache) == 3
    assert sum(key in cache for key in pooled) == 2


def test_ghost_entries_of_deleted_keys_are_skipped():
    cache = RedisLRUModel(3, samples=5, requests_per_second=1_000)  # one clock tick: every idle time ties
    cache.replay(["a", "b", "c", "d"])
    pooled = [key for _, key in cache.pool]  # equals go left, so the earliest sampled is on the right
    ghost, next_best = pooled[-1], pooled[-2]
    assert cache.delete(ghost) and ghost in [key for _, key in cache.pool]
    assert not cache.delete(ghost)
    hits, misses, evictions = cache.replay(["x", "y"])  # y goes over
    assert (hits, misses, evictions) == (0, 2, 1)
    assert next_best not in cache and ghost not in [key for _, key in cache.pool]
    assert {"x", "y"} <= set(cache.keys()) and len(cache) == 3


def test_more_samples_come_closer_to_exact_lru(trace):
    exact = exact_lru_hits(trace.tolist(), 1_000)
    one = RedisLRUModel(1_000, samples=1).replay(trace)[0]
    ten = RedisLRUModel(1_000, samples=10).replay(trace)[0]
    assert one < ten <= exact * 1.001
    assert (exact - ten) / len(trace) < 0.005 < (exact - one) / len(trace)


@pytest.mark.parametrize("model, sampling", BOTH_SAMPLERS)
def test_same_seed_same_replay_other_seed_other_replay(model, sampling, trace):
    # how fast a replay is: benchmarks/redis_eviction_models.py
    first = model(2_000, seed=7, sampling=sampling).replay(trace)
    assert model(2_000, seed=7, sampling=sampling).replay(trace) == first
    assert model(2_000, seed=8, sampling=sampling).replay(trace) != first


def test_dict_sampling_walks_neighbouring_buckets_newest_first():
    cache = RedisLRUModel(1_000, samples=5, sampling="dict")
    cache.replay(list(range(1_000)))
    table = cache._resident
    assert table._mask + 1 == 1_024 and sum(map(len, table._chains)) == 1_000
    for _ in range(200):
        picked = table.sample(5)
        assert len(picked) == 5 and set(picked) <= set(range(1_000))
        chain = next(c for c in table._chains if picked[0] in c)
        assert picked[:len(chain)] == chain[::-1][:5]  # a whole chain, newest first


def test_dict_sampling_is_not_uniform_but_covers_every_key():
    cache = RedisLRUModel(1_000, sampling="dict")
    cache.replay(list(range(1_000)))
    seen = np.bincount([key for _ in range(20_000) for key in cache._resident.sample(5)], minlength=1_000)
    assert seen.min() > 0 and seen.max() > 3 * seen.mean()  # a key behind a run of empty buckets is drawn more


@pytest.mark.parametrize("model", MODELS)
def test_numpy_lists_and_string_keys_replay_alike(model, trace):
    assert model(500).replay(trace) == model(500).replay(trace.tolist())
    assert model(500).replay([f"k{i}" for i in trace.tolist()])[1] > 0


@pytest.mark.parametrize("call", [
    lambda: RedisLRUModel(0), lambda: RedisLRUModel(10, samples=0), lambda: RedisLRUModel(10, samples=65),
    lambda: RedisLRUModel(10, pool_size=0), lambda: RedisLRUModel(10, requests_per_second=0),
    lambda: RedisLRUModel(10.0), lambda: RedisLRUModel(True), lambda: RedisLFUModel(10, log_factor=-1),
    lambda: RedisLFUModel(10, decay_minutes=-1), lambda: RedisLFUModel(10, requests_per_minute=0),
    lambda: RedisLFUModel(10, seed=-1), lambda: RedisLRUModel(10, sampling="random"),
    lambda: RedisLRUModel(10).replay("abc"),
    lambda: RedisLRUModel(10).replay(np.zeros((2, 2), dtype=np.int64)),
    lambda: RedisLRUModel(10).replay([1, 2], seconds=[5]),
    lambda: RedisLFUModel(10).replay([1, 2], seconds=[5, 4]),
    lambda: RedisLFUModel(10).replay([1, 2], seconds=[0.5, 1.5]),
])
def test_bad_parameters_are_invalid_input(call):
    with pytest.raises(InvalidInput):
        call()


@pytest.mark.live
def test_models_match_live_redis_within_half_a_point(figures):
    """Zipf(1.0), 300,000 requests over 100,000 keys, about 10,000 resident: model vs live Redis 7."""
    if not available():
        pytest.skip("no redis-server binary on the PATH: comparing the models with live Redis needs one")
    trace = zipf(100_000, 300_000, 1.0, seed=0)
    for policy, model in (("allkeys-lru", RedisLRUModel), ("allkeys-lfu", RedisLFUModel)):
        started = time.perf_counter()
        live = replay_on_redis(trace, policy, 10_000)
        live_s = time.perf_counter() - started
        size = live.resident_keys_observed
        assert abs(size - 10_000) < 500 and live.requests == len(trace)
        assert live.hits + live.misses == len(trace) and live.evictions > 0
        figures(f"{policy}: live Redis {live.hit_ratio:.4f} at {size} resident keys, {len(trace)} requests, "
                f"{live.requests_per_second:,.0f} requests/s, {live.evictions} evictions; live run {live_s:.1f} s")
        for sampling in ("uniform", "dict"):
            started = time.perf_counter()
            hits, _, _ = model(size, sampling=sampling).replay(trace, seconds=live.request_seconds())
            model_s = time.perf_counter() - started
            ratio = hits / len(trace)
            figures(f"    model ({sampling} sampling, on the live run's clock): {ratio:.4f} "
                    f"({(ratio - live.hit_ratio) * 100:+.2f} points), {model_s:.1f} s")
            # the default (dict) model must be within half a point; the simpler uniform one within one
            assert abs(ratio - live.hit_ratio) < (0.005 if sampling == "dict" else 0.01)
        if model is RedisLRUModel:
            ticked = model(size).replay(trace)[0] / len(trace)
            figures(f"    model with one clock tick per request (the default): {ticked:.4f}; at this request "
                    f"rate Redis' one-second LRU clock ranks most sampled keys as equally idle")


@pytest.mark.parametrize("call", [
    lambda: replay_on_redis([], "allkeys-lru", 10), lambda: replay_on_redis([1, -2], "allkeys-lru", 10),
    lambda: replay_on_redis([1.5], "allkeys-lru", 10), lambda: replay_on_redis([1, 2], "noeviction", 10),
    lambda: replay_on_redis([1, 2], "allkeys-lru", 0), lambda: replay_on_redis([1, 2], "allkeys-lru", 10, samples=0),
    lambda: replay_on_redis([1, 2], "allkeys-lru", 10, warmup=2),
    lambda: replay_on_redis([1, 2], "allkeys-lru", 10, value_bytes=0),
])
def test_live_replay_checks_its_arguments_before_starting_a_server(call):
    with pytest.raises(InvalidInput):
        call()


@pytest.fixture
def empty_server():
    if not available():
        pytest.skip("no redis-server binary on the PATH")
    with RedisProcess() as server:
        yield server


@pytest.mark.live
@pytest.mark.parametrize("policy", ["allkeys-random", "volatile-ttl"])
def test_live_replay_on_a_given_server_gives_its_settings_back(empty_server, policy):
    client = empty_server.client()
    before = {name: client.config_get(name)[name] for name in ("maxmemory", "maxmemory-policy", "maxmemory-samples")}
    trace = zipf(20_000, 30_000, 1.0, seed=2)
    result = replay_on_redis(trace, policy, 2_000, url=empty_server.url, samples=7, warmup=5_000, progress=True)
    assert result.policy == policy and result.requests == 25_000 == result.hits + result.misses
    assert abs(result.resident_keys_observed - 2_000) < 200 and result.evictions > 0
    assert result.request_seconds().shape == (25_000,)
    assert client.dbsize() == 0
    assert {name: client.config_get(name)[name] for name in before} == before


@pytest.mark.live
def test_live_replay_refuses_a_server_holding_keys(empty_server):
    empty_server.client().set("someone's", "data")
    with pytest.raises(ConfigError, match="holds keys"):
        replay_on_redis([1, 2, 3], "allkeys-lru", 10, url=empty_server.url)
    assert empty_server.client().get("someone's") == "data"
