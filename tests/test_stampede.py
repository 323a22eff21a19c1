"""Stampede protection: unit tests per strategy on a SimulatedClock, then real herds on both backends."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time

import fakeredis
import pytest
import redis

from whatsapp_cache import InvalidInput, SimulatedClock, SystemClock
from whatsapp_cache.keys import KeySchema
from whatsapp_cache.stampede import (Entry, Jitter, Lock, NoProtection, XFetch, make_strategy,
                                     recompute_probability, should_recompute)
from whatsapp_cache.stampede.herd import run_herd
from whatsapp_cache.invalidation.contract import JITTER_CASES
from whatsapp_cache.ttl import jittered_ttl
from whatsapp_cache.stampede.contract import ACQUIRE_CASES, DECISION_CASES, RELEASE_CASES
from whatsapp_cache.stampede.lock import acquire_lock, release_lock
from whatsapp_cache.stampede.xfetch import xfetch_decision

KEYS = KeySchema("wc")
NAME = "profile:u000001"


@pytest.fixture
def fake():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


@pytest.fixture
def clock():
    return SimulatedClock()


def counting_load(clock=None, took_ms=0, value="fresh"):
    """A load() that counts its calls and, on a SimulatedClock, takes `took_ms`."""
    def load():
        load.calls += 1
        if clock is not None and took_ms:
            clock.advance(took_ms)
        return value
    load.calls = 0
    return load


# --- the entry and the naive path -------------------------------------------------------------

def test_entry_is_json_with_expiry_and_delta(fake, clock):
    strategy = NoProtection(fake, KEYS, ttl_ms=1000, clock=clock)
    strategy.get(NAME, counting_load(clock, took_ms=40, value={"name": "Ana"}))
    stored = json.loads(fake.get(KEYS.hot(NAME)))
    assert stored == {"v": 1, "value": {"name": "Ana"}, "exp": clock.now_ms() + 1000, "delta": 40}
    assert 1000 < fake.pttl(KEYS.hot(NAME)) <= 2000  # Redis keeps it one more ttl, for stale serves
    assert Entry.decode("not json") is None and Entry.decode('{"v":2}') is None


def test_naive_expiry_follows_the_clock_not_redis(fake, clock):
    strategy, load = NoProtection(fake, KEYS, ttl_ms=1000, clock=clock), counting_load()
    assert strategy.get(NAME, load).outcome == "loaded"
    assert strategy.get(NAME, load).outcome == "hit"
    clock.advance(1000)  # Redis still holds the key; the entry's own expiry says it is stale
    assert fake.exists(KEYS.hot(NAME)) and strategy.get(NAME, load).outcome == "loaded"
    assert load.calls == 2


def test_bad_names_and_strategies_are_refused(fake):
    with pytest.raises(InvalidInput):
        make_strategy("dogpile", fake, ttl_ms=1000)
    with pytest.raises(InvalidInput):
        NoProtection(fake, ttl_ms=1000).get("no spaces", counting_load())
    with pytest.raises(InvalidInput):
        NoProtection(fake, ttl_ms=0)


# --- jitter -----------------------------------------------------------------------------------

def test_jitter_stays_within_its_bounds(fake, clock):
    strategy = Jitter(fake, KEYS, ttl_ms=1000, jitter_ms=100, clock=clock, seed=7)
    lifetimes = {strategy.store(NAME, 1, 0).expires_ms - clock.now_ms() for _ in range(300)}
    assert min(lifetimes) >= 1000 and max(lifetimes) <= 1100
    assert len(lifetimes) > 50  # actually spread, not a constant


def test_jittered_ttl_passes_the_contract_the_one_chapter_03_checks(world):
    for _describe, run, _hint in JITTER_CASES:
        run(jittered_ttl, world)


def test_the_seeds_float_jitter_fails_the_contract_at_setex(world):
    (describe, run, _hint) = JITTER_CASES[0]
    with pytest.raises(AssertionError):
        run(lambda base, spread, rng: base + rng.random() * spread, world)
    assert describe.startswith("Redis' SETEX accepts it")


@pytest.mark.parametrize("cases, subject", [(ACQUIRE_CASES, acquire_lock), (RELEASE_CASES, release_lock),
                                           (DECISION_CASES, xfetch_decision)], ids=["acquire", "release", "xfetch"])
def test_lock_and_xfetch_pass_the_contract_chapter_05_checks(world, cases, subject):
    """stampede/contract.py, on the library's own functions (Lock and XFetch use them)."""
    for _describe, run, _hint in cases:
        run(subject, world)


def test_a_plain_del_deletes_the_next_holders_lock(world):
    (describe, run, _hint) = RELEASE_CASES[1]
    with pytest.raises(AssertionError, match="token-b"):
        run(lambda client, key, token: bool(client.delete(key)), world)
    assert describe.startswith("a holder whose lock expired")


# --- lock -------------------------------------------------------------------------------------

def test_lock_token_mismatch_never_deletes_another_holders_lock(fake, clock):
    strategy = Lock(fake, KEYS, ttl_ms=1000, clock=clock)
    assert strategy.acquire(NAME, "holder-b")
    assert strategy.release(NAME, "holder-a") is False  # e.g. A's lock expired and B took it
    assert fake.get(KEYS.lock(NAME)) == "holder-b"
    assert strategy.release(NAME, "holder-b") is True
    assert not fake.exists(KEYS.lock(NAME))


def test_lock_always_has_a_px_and_is_released_by_its_holder(fake, clock):
    strategy = Lock(fake, KEYS, ttl_ms=1000, lock_ms=3000, clock=clock)
    seen = []

    def load():
        seen.append((fake.get(KEYS.lock(NAME)), fake.pttl(KEYS.lock(NAME))))
        return "v"

    assert strategy.get(NAME, load).outcome == "loaded"
    [(token, pttl)] = seen
    assert token and 0 < pttl <= 3000
    assert not fake.exists(KEYS.lock(NAME))


def test_lock_released_even_when_load_fails(fake, clock):
    strategy = Lock(fake, KEYS, ttl_ms=1000, clock=clock)

    def load():
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        strategy.get(NAME, load)
    assert not fake.exists(KEYS.lock(NAME))


def test_lock_waiter_gets_the_holders_value(fake, clock):
    holder = NoProtection(fake, KEYS, ttl_ms=1000, clock=clock)
    fake.set(KEYS.lock(NAME), "other-reader", px=5000)

    def holder_finishes(ms):  # while the waiter polls, the other reader stores its load
        clock.advance(ms)
        holder.store(NAME, "from-holder", 50)

    waiter = Lock(fake, KEYS, ttl_ms=1000, poll_ms=20, clock=clock, sleep=holder_finishes)
    load = counting_load()
    read = waiter.get(NAME, load)
    assert (read.value, read.outcome, read.waited_ms, load.calls) == ("from-holder", "waited", 20, 0)


def test_dead_holder_waiter_serves_stale_after_the_bounded_wait(fake, clock):
    strategy = Lock(fake, KEYS, ttl_ms=1000, max_wait_ms=300, poll_ms=10, clock=clock)
    strategy.store(NAME, "old", 50)
    clock.advance(1500)  # expired on the clock, still in Redis for stale serves
    fake.set(KEYS.lock(NAME), "dead-holder", px=60_000)
    load = counting_load()
    read = strategy.get(NAME, load)
    assert (read.value, read.outcome, load.calls) == ("old", "stale", 0)
    assert 300 <= read.waited_ms <= 310


def test_dead_holder_and_nothing_stale_waiter_loads_itself(fake, clock):
    strategy = Lock(fake, KEYS, ttl_ms=1000, max_wait_ms=300, poll_ms=10, clock=clock)
    fake.set(KEYS.lock(NAME), "dead-holder", px=60_000)
    load = counting_load()
    read = strategy.get(NAME, load)
    assert (read.value, read.outcome, load.calls) == ("fresh", "loaded", 1)
    assert read.waited_ms >= 300
    assert fake.get(KEYS.lock(NAME)) == "dead-holder"  # never deleted someone else's lock


# --- xfetch -----------------------------------------------------------------------------------

def test_xfetch_probability_rises_as_expiry_nears_and_with_beta():
    lefts = [1000, 500, 200, 100, 50, 10, 0]
    probabilities = [recompute_probability(50, 1.0, left) for left in lefts]
    assert probabilities == sorted(probabilities) and probabilities[-1] == 1.0
    assert recompute_probability(50, 2.0, 200) > recompute_probability(50, 1.0, 200) > \
        recompute_probability(50, 0.5, 200)
    assert recompute_probability(50, 1.0, 100) == pytest.approx(math.exp(-2))


def test_xfetch_draws_match_the_probability():
    rng, entry = random.Random(3), Entry("v", expires_ms=1000, delta_ms=50)
    for left, beta in ((100, 1.0), (100, 2.0), (200, 1.0), (30, 0.5)):
        share = sum(should_recompute(entry, 1000 - left, beta, rng) for _ in range(20_000)) / 20_000
        p = recompute_probability(50, beta, left)
        assert share == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / 20_000))  # 5 standard errors


def test_xfetch_stores_measured_delta_and_recomputes_early(fake, clock):
    strategy = XFetch(fake, KEYS, ttl_ms=1000, clock=clock, seed=1)
    load = counting_load(clock, took_ms=80)
    assert strategy.get(NAME, load).outcome == "loaded"
    assert strategy.fetch(NAME).delta_ms == 80
    outcomes = []
    while load.calls == 1:
        clock.advance(10)
        outcomes.append(strategy.get(NAME, load).outcome)
    assert outcomes[-1] == "early" and set(outcomes[:-1]) == {"hit"}
    # an early recompute happened before expiry: the last draw was at most 1000 ms after the fill
    assert len(outcomes) * 10 < 1000


def test_xfetch_single_flight_serves_the_fresh_value_while_another_recomputes(fake, clock):
    strategy = XFetch(fake, KEYS, ttl_ms=1000, clock=clock, seed=1)
    strategy.store(NAME, "current", 1_000_000)  # a huge delta: every draw wants to recompute
    fake.set(KEYS.lock(NAME), "other-reader", px=5000)
    load = counting_load()
    assert strategy.get(NAME, load).outcome == "hit" and load.calls == 0
    fake.delete(KEYS.lock(NAME))
    assert strategy.get(NAME, load).outcome == "early" and load.calls == 1
    assert not fake.exists(KEYS.lock(NAME))


# --- the herd, on both backends -----------------------------------------------------------------

HERD = dict(readers=100, load_ms=50, ttl_s=0.5, expiries=2)


def watch_lock(client, lock_key, stop):
    """Sample the lock's PTTL until stopped; -1 would be a lock without expiry."""
    samples = []
    while not stop.is_set():
        samples.append(client.pttl(lock_key))
        time.sleep(0.002)
    return samples


@pytest.mark.no_cluster("stampede/herd.py builds its readers' client from a single-node connection pool")
def test_herd_naive_stampedes_lock_and_xfetch_load_about_once(make_world, backend, figures):
    world = make_world(dataset=None)
    results = {}
    for label, strategy, options in (("none", "none", None), ("jitter", "jitter", None),
                                     ("lock", "lock", None), ("xfetch", "xfetch", None),
                                     ("xfetch-pure", "xfetch", {"single_flight": False})):
        stop, samples = threading.Event(), []
        watcher = threading.Thread(target=lambda: samples.extend(watch_lock(world.redis, KEYS.lock("herd"), stop)))
        watcher.start()
        try:
            results[label] = result = run_herd(strategy, world.redis, options=options, **HERD)
        finally:
            stop.set()
            watcher.join(timeout=5)
        figures(f"stampede {backend.name:<8} {label:<11} {result.summary()}")
        assert (result.errors, result.stuck) == (0, 0), result.error_messages
        assert -1 not in samples  # never a lock without expiry
        assert world.redis.pttl(KEYS.lock("herd")) == -2  # and none left behind
    assert results["none"].loads_per_expiry >= 20
    assert results["none"].max_concurrent_loads >= 20
    assert results["jitter"].loads_per_expiry >= 20  # jitter does not protect one hot key
    assert results["lock"].loads <= HERD["expiries"] + 1 and results["lock"].max_concurrent_loads == 1
    # waiters give up after max_wait_ms (4 x 50 + 200); the slack is for a busy machine's scheduling
    assert results["lock"].wait_ms and max(results["lock"].wait_ms) <= 4 * 50 + 200 + 600
    xfetch = results["xfetch"].outcomes
    assert results["xfetch"].loads_per_refresh == 1.0
    # refreshed early, before the key expired; a starved machine may let one period pass unread (a miss loads)
    assert xfetch.get("early", 0) > xfetch.get("loaded", 0), xfetch
    assert results["xfetch"].loads * 5 <= results["none"].loads
    assert results["xfetch-pure"].loads < results["none"].loads


def test_a_herd_whose_readers_all_slept_through_the_expiry_still_reads_once_after_it(fake):
    # one reader reads at once, then "thinks" for 1 s, past the expiry (0.3 s) and the deadline (0.45 s):
    # a run that stopped at its deadline would report 0 loads, as a starved CI machine once did
    result = run_herd("none", fake, readers=1, ttl_s=0.3, load_ms=10, expiries=1, think_ms=1000)
    assert (result.reads, result.loads, result.outcomes.get("loaded")) == (2, 1, 1)
    assert (result.errors, result.stuck) == (0, 0)


def test_dead_lock_holder_does_not_block_readers_beyond_the_bounded_wait(make_world, backend, figures):
    world = make_world(dataset=None)
    # The dead holder's lock lasts far longer than the readers may wait, so the bounds below can be
    # generous for a busy machine and still tell a bounded wait from waiting the lock out.
    client, lock_ms, max_wait_ms = world.redis, 20_000, 250
    for stale in (True, False):
        client.delete(KEYS.hot(NAME), KEYS.lock(NAME))
        if stale:
            Lock(client, KEYS, ttl_ms=50, stale_ms=10_000).store(NAME, "old", 50)
            time.sleep(0.06)
        # a holder that took the lock and died before releasing it
        assert client.set(KEYS.lock(NAME), "dead-holder", nx=True, px=lock_ms)
        reads, started = [], time.monotonic()

        def reader(i):
            strategy = Lock(client, KEYS, ttl_ms=1000, lock_ms=lock_ms, max_wait_ms=max_wait_ms, poll_ms=5,
                            clock=SystemClock(), seed=i)
            reads.append(strategy.get(NAME, lambda: time.sleep(0.05) or "reloaded"))

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=lock_ms / 2000)
        elapsed_ms = (time.monotonic() - started) * 1000
        outcomes = sorted({r.outcome for r in reads})
        figures(f"stampede {backend.name:<8} dead holder, stale={stale}: 20 readers done in {elapsed_ms:.0f} ms "
                f"({outcomes}, {sum(r.loaded for r in reads)} loads)")
        assert len(reads) == 20 and elapsed_ms < lock_ms / 2
        if stale:
            assert {r.value for r in reads} == {"old"} and outcomes == ["stale"]
        else:
            assert {r.value for r in reads} == {"reloaded"}
        assert max_wait_ms <= max(r.waited_ms for r in reads) < lock_ms / 2
        assert 0 < client.pttl(KEYS.lock(NAME)) <= lock_ms  # the dead holder's lock will expire by its PX


HOLDER = """
import sys, time, redis
from whatsapp_cache.keys import KeySchema
from whatsapp_cache.stampede import Lock
client = redis.Redis.from_url(sys.argv[1], decode_responses=True)
def load():
    print("holding", flush=True)
    time.sleep(60)
Lock(client, KeySchema("wc"), ttl_ms=1000, lock_ms=int(sys.argv[2])).get(sys.argv[3], load)
"""


@pytest.mark.live
def test_holder_process_killed_with_sigkill_leaves_a_lock_that_expires(live_redis_url, figures):
    client = redis.Redis.from_url(live_redis_url, decode_responses=True)
    client.delete(KEYS.hot(NAME), KEYS.lock(NAME))
    lock_ms = 500
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, live_redis_url, str(lock_ms), NAME],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=5)
        assert 0 < client.pttl(KEYS.lock(NAME)) <= lock_ms
        started = time.monotonic()
        read = Lock(client, KEYS, ttl_ms=1000, lock_ms=lock_ms, max_wait_ms=20_000, clock=SystemClock()).get(
            NAME, lambda: "reloaded")
        elapsed_ms = (time.monotonic() - started) * 1000
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
        client.delete(KEYS.hot(NAME), KEYS.lock(NAME))
        client.close()
    figures(f"stampede live     SIGKILLed holder: next reader {read.outcome} after {elapsed_ms:.0f} ms "
            f"(lock PX {lock_ms} ms)")
    # loaded once the dead lock expired, long before the reader's own wait would have run out
    assert read.value == "reloaded" and read.outcome == "loaded" and elapsed_ms < lock_ms + 5_000


@pytest.mark.live
def test_herd_across_processes_loads_once_per_expiry_with_the_lock(live_redis_url, figures):
    client = redis.Redis.from_url(live_redis_url, decode_responses=True)
    try:
        results = {name: run_herd(name, client, processes=4, **HERD) for name in ("none", "lock")}
    finally:
        client.delete(KEYS.hot("herd"), KEYS.lock("herd"))
        client.close()
    for name, result in results.items():
        figures(f"stampede live     {name + ' x4 proc':<11} {result.summary()}")
        assert result.errors == 0 and result.stuck == 0
    assert results["none"].loads_per_expiry >= 20
    assert results["lock"].loads <= HERD["expiries"] + 1 and results["lock"].max_concurrent_loads == 1
