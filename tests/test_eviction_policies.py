"""LRU, LFU and FIFO caches: one contract for all three (and cachetools'), hand traces, equality with cachetools."""

import copy
import pickle
import random
import sys
from collections.abc import MutableMapping

import cachetools
import numpy as np
import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.eviction import FIFOCache, LFUCache, LRUCache, replay, simulate
from whatsapp_cache.eviction.contract import LFU_TRACES, LRU_TRACES, MappingPolicy

OURS = {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache}
THEIRS = {"lru": cachetools.LRUCache, "lfu": cachetools.LFUCache, "fifo": cachetools.FIFOCache}
# The contract runs on cachetools' classes too: it is their interface that ours promise.
CONTRACT = [*OURS.values(), *THEIRS.values()]


def _name(cls):
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


@pytest.fixture(params=CONTRACT, ids=_name)
def cls(request):
    return request.param


@pytest.fixture(params=[pytest.param((OURS[p], THEIRS[p]), id=p) for p in OURS])
def pair(request):
    """Our class of one policy and cachetools' class of the same policy."""
    return request.param


def recording(base):
    """`base` with a log of the keys it evicts (popitem is the only way out besides del)."""
    class Recording(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.evicted = []

        def popitem(self):
            key, value = super().popitem()
            self.evicted.append(key)
            return key, value
    return Recording


def zipf_trace(seed, requests=20_000, keys=5_000, alpha=1.2):
    return np.random.default_rng(seed).zipf(alpha, requests) % keys


# -- the contract --------------------------------------------------------------------------------

def test_a_cache_is_a_mutable_mapping(cls):
    cache = cls(3)
    cache["a"] = 1
    cache["b"] = 2
    assert isinstance(cache, MutableMapping)
    assert cache["a"] == 1 and "b" in cache and "z" not in cache
    assert len(cache) == 2 and sorted(cache) == ["a", "b"] and dict(cache) == {"a": 1, "b": 2}
    del cache["a"]
    assert dict(cache) == {"b": 2}
    with pytest.raises(KeyError):
        del cache["a"]
    with pytest.raises(KeyError):
        cache["a"]


def test_sizes_count_items_by_default_and_never_exceed_maxsize(cls):
    cache = cls(3)
    assert (cache.maxsize, cache.currsize, cache.getsizeof("anything")) == (3, 0, 1)
    for key in range(10):
        cache[key] = key
        assert cache.currsize == len(cache) <= 3
    assert len(cache) == 3


def test_getsizeof_gives_each_value_its_size(cls):
    cache = cls(10, getsizeof=len)
    cache["a"] = "xxx"
    cache["b"] = "xxxxx"
    assert cache.currsize == 8 and cache.getsizeof("xxxx") == 4
    cache["a"] = "x"  # an overwrite frees the old size
    assert cache.currsize == 6
    cache["c"] = "xxxxxx"  # 6 + 6 > 10: something must go
    assert cache.currsize <= 10 and "c" in cache
    assert cache.currsize == sum(len(value) for value in cache.values())


def test_a_value_larger_than_maxsize_is_refused_and_changes_nothing(cls):
    cache = cls(3, getsizeof=len)
    cache["a"] = "x"
    with pytest.raises(ValueError, match="value too large"):
        cache["b"] = "xxxx"
    with pytest.raises(ValueError, match="value too large"):
        cache["a"] = "xxxx"
    assert dict(cache) == {"a": "x"} and cache.currsize == 1


def test_a_negative_size_is_refused(cls):
    cache = cls(3, getsizeof=lambda value: value)
    with pytest.raises(ValueError):
        cache["a"] = -1
    assert len(cache) == 0 and cache.currsize == 0


def test_popitem_removes_one_pair_and_raises_key_error_when_empty(cls):
    cache = cls(2)
    with pytest.raises(KeyError):
        cache.popitem()
    cache["a"] = 1
    assert cache.popitem() == ("a", 1)
    assert len(cache) == 0 and cache.currsize == 0
    with pytest.raises(KeyError):
        cache.popitem()


def test_missing_can_compute_values_in_a_subclass(cls):
    class Squares(cls):
        def __missing__(self, key):
            self[key] = key * key
            return key * key

    cache = Squares(2)
    assert cache[3] == 9 and 3 in cache
    assert cache.get(4) is None and 4 not in cache  # get, pop and setdefault never call __missing__
    assert cache.pop(5, "none") == "none" and cache.setdefault(6, 0) == 0
    assert cache[3] == 9 and len(cache) == 2


def test_missing_need_not_store_and_raises_key_error_by_default(cls):
    class Default(cls):
        def __missing__(self, key):
            return "default"

    cache = Default(2)
    assert cache["a"] == "default" and "a" not in cache
    with pytest.raises(KeyError):
        cls(2)["a"]


def test_get_pop_and_setdefault(cls):
    cache = cls(3)
    cache["a"] = 1
    assert cache.get("a") == 1 and cache.get("b") is None and cache.get("b", 0) == 0
    assert cache.setdefault("a", 5) == 1 and cache.setdefault("b", 2) == 2 and cache["b"] == 2
    assert cache.setdefault("c") is None and "c" in cache
    assert cache.pop("a") == 1 and "a" not in cache and cache.currsize == 2
    assert cache.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        cache.pop("a")


def test_clear_empties_the_cache_and_it_works_again(cls):
    cache = cls(2)
    for key in "abc":
        cache[key] = key
    cache.clear()
    assert len(cache) == 0 and cache.currsize == 0 and list(cache) == []
    with pytest.raises(KeyError):
        cache.popitem()
    for key in "def":
        cache[key] = key
    assert len(cache) == 2 and "f" in cache


def test_repr_shows_items_and_sizes(cls):
    cache = cls(2)
    cache[1] = "a"
    assert repr(cache) == f"{cls.__name__}({{1: 'a'}}, maxsize=2, currsize=1)"


def test_a_copy_is_independent_and_evicts_in_the_same_order(cls):
    cache = cls(5)
    for key in "abcd":
        cache[key] = key
    cache["c"], cache["a"], cache["a"]
    clone = copy.copy(cache)
    clone["e"] = "new"
    assert "e" not in cache and len(cache) == 4
    del clone["e"]
    assert _drain(clone) == _drain(cache)


def _drain(cache):
    """Every pair, in the order popitem() gives them up."""
    return [cache.popitem() for _ in range(len(cache))]


def _used(cls, maxsize=5):
    """A cache whose eviction order is not its insertion order (for LRU and LFU)."""
    cache = cls(maxsize)
    for key in "abcd":
        cache[key] = [key]
    cache["c"], cache["a"], cache["a"]
    return cache


def test_a_deep_copy_shares_no_values_and_evicts_in_the_same_order(cls):
    cache = _used(cls)
    clone = copy.deepcopy(cache)
    clone["a"].append("changed")
    assert cache["a"] == ["a"] and clone["a"] == ["a", "changed"]
    cache["a"].append("changed")  # the same use on both, and the same values again
    assert _drain(clone) == _drain(cache)


# cachetools supports and tests pickling a cache object (its test_pickle, test_pickle_maxsize), so
# ours must round-trip too. This is the only pickle in the project: a test of the classes' interface.
# The library never pickles anything (cached payloads are versioned JSON).

def test_a_pickled_cache_comes_back_equal_and_keeps_evicting(cls):
    source = cls(2)
    source.update({1: 1, 2: 2})
    cache = pickle.loads(pickle.dumps(source))
    assert cache == source and (len(cache), cache[1], cache[2]) == (2, 1, 2)
    cache[3] = 3
    assert len(cache) == 2 and cache[3] == 3 and (1 in cache or 2 in cache)
    cache[4] = 4
    assert len(cache) == 2 and cache[4] == 4
    assert pickle.loads(pickle.dumps(cache)) == cache


@pytest.mark.parametrize("items", [0, 1, 2 * sys.getrecursionlimit()])
def test_a_cache_of_any_size_pickles_with_its_eviction_order(cls, items):
    source = cls(items, getsizeof=len) if items else cls(0)
    source.update((i, "x") for i in range(items))
    if items:
        source[0], source[items // 2]
    cache = pickle.loads(pickle.dumps(source))
    assert (len(cache), cache.currsize, cache.maxsize) == (items, items, items)
    assert _drain(cache) == _drain(source)


def test_maxsize_zero_is_a_cache_that_stores_nothing(cls):
    cache = cls(maxsize=0)
    with pytest.raises(ValueError, match="value too large"):
        cache[1] = 1
    assert (len(cache), cache.currsize, cache.maxsize) == (0, 0, 0) and 1 not in cache
    with pytest.raises(KeyError):
        cache.popitem()
    weightless = cls(0, getsizeof=lambda value: 0)
    weightless["a"] = "a"  # a value of size 0 fits
    assert dict(weightless) == {"a": "a"} and weightless.currsize == 0


def test_a_zero_size_cache_behind_cachetools_cached_computes_every_call(cls):
    calls = []
    square = cachetools.cached(cls(0))(lambda n: calls.append(n) or n * n)
    assert [square(3), square(3)] == [9, 9] and calls == [3, 3]


def test_popitem_on_an_empty_cache_suppresses_the_exception_context(cls):
    with pytest.raises(KeyError) as raised:
        cls(2).popitem()
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(KeyError) as raised:
        try:
            {}["absent"]
        except KeyError:
            cls(2).popitem()  # called while handling another error: that one is not its cause
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


# -- our own input checks ------------------------------------------------------------------------

@pytest.mark.parametrize("policy", sorted(OURS))
@pytest.mark.parametrize("maxsize", [-1, -0.5, float("nan"), "10", None, True, [3]])
def test_maxsize_must_be_a_number_of_at_least_zero(policy, maxsize):
    with pytest.raises(InvalidInput, match="maxsize"):
        OURS[policy](maxsize)


@pytest.mark.parametrize("policy", sorted(OURS))
def test_getsizeof_must_be_callable_and_too_large_is_invalid_input(policy):
    with pytest.raises(InvalidInput, match="getsizeof"):
        OURS[policy](3, getsizeof=5)
    cache = OURS[policy](2.5, getsizeof=len)  # any positive number will do
    with pytest.raises(InvalidInput, match="value too large"):
        cache["a"] = "xxx"


# -- hand traces: which key each insert evicts ---------------------------------------------------

def _traces(traces):
    return [pytest.param(run, id=describe) for describe, run, _hint in traces]


@pytest.mark.parametrize("run", _traces(LRU_TRACES))
@pytest.mark.parametrize("base", [LRUCache, cachetools.LRUCache], ids=_name)
def test_lru_passes_the_hand_traced_contract_chapter_04_checks(base, run):
    """eviction/contract.py: the traces the LRU exercise runs, on ours and on cachetools'."""
    run(lambda capacity: MappingPolicy(base(capacity)))


@pytest.mark.parametrize("run", _traces(LFU_TRACES))
@pytest.mark.parametrize("base", [LFUCache, cachetools.LFUCache], ids=_name)
def test_lfu_passes_the_hand_traced_contract_chapter_04_checks(base, run):
    run(lambda capacity: MappingPolicy(base(capacity)))


@pytest.mark.parametrize("base, traces, first_failure", [
    (FIFOCache, LRU_TRACES, "a read is a use"),
    (LRUCache, LFU_TRACES, "when full, a put evicts the key with the fewest"),
    (FIFOCache, LFU_TRACES, "when full, a put evicts the key with the fewest")],
    ids=["fifo-as-lru", "lru-as-lfu", "fifo-as-lfu"])
def test_the_contract_tells_the_policies_apart(base, traces, first_failure):
    failed = []
    for describe, run, _hint in traces:
        try:
            run(lambda capacity: MappingPolicy(base(capacity)))
        except AssertionError:
            failed.append(describe)
    assert failed and failed[0].startswith(first_failure)


@pytest.mark.parametrize("base", [LRUCache, cachetools.LRUCache], ids=_name)
def test_lru_mapping_uses_membership_is_not_one_setdefault_is(base):
    """What get/put cannot say: `in` is not a use, setdefault of a present key is; popitem takes the oldest."""
    cache = recording(base)(3)
    for key in "abc":
        cache[key] = key      # oldest use first: a b c
    assert "a" in cache       # not a use
    cache.setdefault("a")     # a use: b c a
    cache["d"] = "d"          # evicts b: c a d
    assert cache.evicted == ["b"]
    assert [cache.popitem() for _ in range(3)] == [("c", "c"), ("a", "a"), ("d", "d")]


@pytest.mark.parametrize("base", [LFUCache, cachetools.LFUCache], ids=_name)
def test_lfu_popitem_takes_the_key_longest_at_the_lowest_count(base):
    cache = recording(base)(3)
    for key in "abc":
        cache[key] = key      # 1:[a b c]
    cache["a"], cache["c"]    # 1:[b]  2:[a c]
    assert cache.popitem() == ("b", "b")
    assert cache.popitem() == ("a", "a")


@pytest.mark.parametrize("base", [LFUCache, cachetools.LFUCache], ids=_name)
def test_lfu_counts_start_again_when_a_key_comes_back(base):
    cache = recording(base)(2)
    cache["a"] = "a"
    for _ in range(5):
        cache["a"]            # a: 6 uses
    cache["b"] = "b"
    del cache["a"]            # the lowest count (1) stays at b
    cache["a"] = "a"          # 1:[b a]
    cache["c"] = "c"          # evicts b, which reached 1 first
    cache["d"] = "d"          # evicts a: its six old uses are forgotten
    assert cache.evicted == ["b", "a"]


@pytest.mark.parametrize("base", [FIFOCache, cachetools.FIFOCache], ids=_name)
def test_fifo_evicts_the_oldest_write_and_ignores_reads(base):
    cache = recording(base)(3)
    for key in "abc":
        cache[key] = key      # a b c
    cache["a"], cache.get("a"), cache.setdefault("a")
    cache["d"] = "d"          # evicts a despite its reads: b c d
    cache["b"] = "B"          # an overwrite re-queues b as the newest (as cachetools does): c d b
    cache["e"] = "e"          # evicts c
    cache["f"] = "f"          # evicts d
    assert cache.evicted == ["a", "c", "d"]
    assert dict(cache) == {"b": "B", "e": "e", "f": "f"}


@pytest.mark.parametrize("base", [LRUCache, cachetools.LRUCache], ids=_name)
def test_a_big_value_evicts_as_many_keys_as_it_needs_even_its_own_old_value(base):
    cache = recording(base)(10, getsizeof=len)
    for key in "abc":
        cache[key] = "xxx"    # 9 of 10
    cache["d"] = "xxxxxxx"    # 7 more: a and b go
    assert cache.evicted == ["a", "b"] and cache.currsize == 10
    cache["c"] = "xxxxxxxxxx"  # c is the oldest: it goes itself, then d, and comes back with 10
    assert cache.evicted == ["a", "b", "c", "d"] and dict(cache) == {"c": "xxxxxxxxxx"}


# -- equality with cachetools --------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("policy", sorted(OURS))
def test_hits_equal_cachetools_on_zipf_traces_for_classes_and_simulate(policy, seed):
    trace = zipf_trace(seed)
    keys = trace.tolist()
    for size in (1, 10, 100, 1000):
        expected = replay(THEIRS[policy](size), keys)
        assert replay(OURS[policy](size), keys) == expected, size
        result = simulate(trace, policy, size)
        assert (result.hits, result.misses, result.evictions) == expected, size


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_operations_leave_ours_and_cachetools_in_the_same_state(pair, seed):
    ours, theirs = pair[0](20, getsizeof=len), pair[1](20, getsizeof=len)
    rng = random.Random(seed)
    for _ in range(3000):
        key, value = rng.randrange(12), "x" * rng.randrange(1, 8)
        op = rng.choice(["set", "set", "get", "get", "del", "pop", "popitem", "setdefault"])
        assert _apply(ours, op, key, value) == _apply(theirs, op, key, value), op
        assert dict(ours) == dict(theirs) and list(ours) == list(theirs) and ours.currsize == theirs.currsize


def _apply(cache, op, key, value):
    """One operation: its result, or KeyError if it raised one."""
    try:
        if op == "set":
            cache[key] = value
        elif op == "del":
            del cache[key]
        elif op == "popitem":
            return cache.popitem()
        elif op == "setdefault":
            return cache.setdefault(key, value)
        else:
            return getattr(cache, op)(key)
    except KeyError:
        return KeyError
    return None
