"""Chapter 05's contract: a recompute lock with a token, and XFetch's decision.

    acquire_lock(redis, key, lock_ms) -> token or None      (stampede/lock.py)
    release_lock(redis, key, token) -> bool                  (stampede/lock.py)
    xfetch_decision(ttl_left_ms, delta_ms, beta, u) -> bool  (stampede/xfetch.py; u drawn in (0, 1])

tests/test_stampede.py runs these cases on the library's functions; course/exercises/ch05.py runs
them on a learner's. The lock cases cover what goes wrong around the seed's Q4 lock: its constant
value "locked" instead of a token, a release by plain DEL that frees another holder's lock, a lock
without an expiry, and check-then-act steps that another holder slips between.
"""

from __future__ import annotations

import math

from ..clock import SimulatedClock
from ..course.exercises import AfterFirstGet, expect
from .xfetch import XFetch

LOCK_MS = 2_000


def _key(world, name: str = "hot-group") -> str:
    key = world.keys.lock(name)
    world.redis.delete(key)
    return key


# -- acquire ---------------------------------------------------------------------------------------

def free_lock_is_taken(acquire, world) -> None:
    key = _key(world)
    token = acquire(world.redis, key, LOCK_MS)
    held = world.redis.get(key)
    expect(isinstance(token, str) and token != "" and held == token,
           f"acquire_lock(redis, key, {LOCK_MS}) on a free lock",
           (token, f"the key holds {held!r}"), "a token (a non-empty string), the one the key now holds")


def lock_always_expires(acquire, world) -> None:
    key = _key(world)
    acquire(world.redis, key, LOCK_MS)
    pttl = world.redis.pttl(key)
    expect(0 < pttl <= LOCK_MS, f"acquire_lock(redis, key, {LOCK_MS}), then PTTL key", pttl,
           f"1 to {LOCK_MS} ms: a holder that dies must not hold the lock forever (-1 is no expiry)")


def held_lock_is_refused(acquire, world) -> None:
    key = _key(world)
    first = acquire(world.redis, key, LOCK_MS)
    second = acquire(world.redis, key, LOCK_MS)
    held = world.redis.get(key)
    expect(second is None and held == first, "acquire_lock twice on the same key", (second, f"the key holds {held!r}"),
           "(None, the first token): only one holder at a time")


def tokens_are_unique(acquire, world) -> None:
    key, tokens = _key(world), []
    for _ in range(20):
        tokens.append(acquire(world.redis, key, LOCK_MS))
        world.redis.delete(key)
    expect(len(set(tokens)) == 20, "acquire_lock 20 times (the lock deleted in between)", sorted(set(tokens))[:3],
           "20 different tokens: a constant like the seed's 'locked' lets any holder release anyone's lock")


def taking_is_one_step(acquire, world) -> None:
    key, other_took = _key(world), []
    client = AfterFirstGet(world.redis, key, lambda: other_took.append(
        bool(world.redis.set(key, "other-holder", nx=True, px=LOCK_MS))))
    token = acquire(client, key, LOCK_MS)
    client.finish()
    held = world.redis.get(key)
    both = other_took[0] and token is not None
    expect(not both and held == (token if token is not None else "other-holder"),
           "acquire_lock, with another holder taking the lock (SET NX) right after your GET, if you GET",
           (token, f"the key holds {held!r}"),
           "one holder: take it with one SET NX PX, never GET then SET (here both believe they hold it)")


ACQUIRE_CASES = [
    ("a free lock is taken: you get a token, and the key holds it", free_lock_is_taken,
     "SET key <random token> NX PX lock_ms; return the token if the SET succeeded, else None"),
    ("the lock always expires", lock_always_expires,
     "PX lock_ms in the same SET: SETNX then EXPIRE can die in between"),
    ("a held lock is refused", held_lock_is_refused, "NX: set only if absent"),
    ("every acquisition gets its own token", tokens_are_unique, "secrets.token_hex(16)"),
    ("taking the lock is one step: another holder between your GET and your SET", taking_is_one_step,
     "one SET NX PX does the check and the set atomically"),
]


# -- release ---------------------------------------------------------------------------------------

def holder_releases_its_lock(release, world) -> None:
    key = _key(world)
    world.redis.set(key, "token-a", px=LOCK_MS)
    got = release(world.redis, key, "token-a")
    gone = not world.redis.exists(key)
    expect(got is True and gone, "release_lock(redis, key, 'token-a') while the key holds 'token-a'",
           (got, "lock deleted" if gone else "lock still there"), "(True, 'lock deleted')")


def expired_holder_spares_the_next(release, world) -> None:
    key = _key(world)
    world.redis.set(key, "token-b", px=LOCK_MS)  # A's lock expired while A was slow; B took it
    got = release(world.redis, key, "token-a")
    held = world.redis.get(key)
    expect(not got and held == "token-b",
           "A's lock expired and B took it (the key holds 'token-b'); then A calls release_lock(redis, key, 'token-a')",
           (got, f"the key holds {held!r}"), "(False, 'token-b'): A must not delete B's lock")


def gone_lock_is_false(release, world) -> None:
    key = _key(world)
    got = release(world.redis, key, "token-a")
    expect(got is False, "release_lock on a lock that already expired (no key)", got, "False")


def release_is_one_step(release, world) -> None:
    key = _key(world)
    world.redis.set(key, "token-a", px=LOCK_MS)

    def expire_and_hand_over():
        world.redis.delete(key)
        world.redis.set(key, "token-b", px=LOCK_MS)

    client = AfterFirstGet(world.redis, key, expire_and_hand_over)
    release(client, key, "token-a")
    client.finish()
    held = world.redis.get(key)
    expect(held == "token-b",
           "release_lock(redis, key, 'token-a'); right after your GET, A's lock expires and B takes it",
           f"the key holds {held!r}", "'token-b': compare and delete in one Lua script, so nothing comes between")


RELEASE_CASES = [
    ("the holder releases its own lock", holder_releases_its_lock,
     "delete the key when it holds your token; return True"),
    ("a holder whose lock expired does not delete the next holder's", expired_holder_spares_the_next,
     "a plain DEL deletes whoever holds the lock now; compare the token first"),
    ("releasing a lock that is gone returns False", gone_lock_is_false, "return bool(...) of what was deleted"),
    ("compare and delete is one step: the lock changes hands between your GET and your DEL", release_is_one_step,
     "redis.eval(\"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
     "return 0\", 1, key, token)"),
]


# -- XFetch's decision -----------------------------------------------------------------------------

def _xfetch(ttl_left: float, delta: float, beta: float, u: float) -> bool:
    return -delta * beta * math.log(u) >= ttl_left


def _grid(decide, cases, called: str) -> None:
    for ttl_left, delta, beta, u in cases:
        got, want = decide(ttl_left, delta, beta, u), _xfetch(ttl_left, delta, beta, u)
        expect(bool(got) == want and isinstance(got, bool),
               f"{called}: xfetch_decision(ttl_left_ms={ttl_left}, delta_ms={delta}, beta={beta}, u={u})", got,
               f"{want}: -{delta} * {beta} * ln({u}) = {-delta * beta * math.log(u):,.0f} ms, "
               f"against {ttl_left:,} ms left")


def young_value_is_kept(decide, world) -> None:
    _grid(decide, [(60_000, 50, 1.0, u) for u in (1.0, 0.5, 0.1, 0.01, 0.001)], "a minute left, a 50 ms recompute")


def expired_value_is_recomputed(decide, world) -> None:
    _grid(decide, [(left, 50, 1.0, u) for left in (0, -1, -5_000) for u in (1.0, 0.5, 0.01)], "at or past expiry")


def delta_scales_the_window(decide, world) -> None:
    _grid(decide, [(left, delta, 1.0, u) for delta in (10, 100, 1_000) for left in (50, 200, 1_000, 5_000)
                   for u in (0.9, 0.5, 0.1, 0.01)], "beta 1, the recompute time varies")


def beta_scales_the_window(decide, world) -> None:
    _grid(decide, [(left, 100, beta, u) for beta in (0.5, 2.0, 4.0) for left in (100, 400, 1_500)
                   for u in (0.9, 0.5, 0.1, 0.01)], "delta 100 ms, beta varies")


def refreshes_before_expiry_in_xfetch(decide, world) -> None:
    """The decision inside the library's XFetch on Redis: readers every 10 ms of a value whose load took
    80 ms and that lives 1 s; one of them refreshes it before it expires, and only once."""
    clock = SimulatedClock()
    strategy = XFetch(world.redis, world.keys, ttl_ms=1_000, clock=clock, seed=1, decide=decide)
    world.redis.delete(world.keys.hot("xfetch-probe"), world.keys.lock("xfetch-probe"))
    loads = []

    def load():
        loads.append(clock.now_ms())
        clock.advance(80)
        return "value"

    strategy.get("xfetch-probe", load)
    outcomes = []
    while len(loads) == 1 and len(outcomes) < 150:
        clock.advance(10)
        outcomes.append(strategy.get("xfetch-probe", load).outcome)
    refreshed_at = len(outcomes) * 10
    expect(outcomes[-1] == "early" and refreshed_at < 1_000,
           "XFetch(ttl 1 s, beta 1, your decision) on Redis: a value whose load took 80 ms, read every 10 ms",
           f"{outcomes[-1]} after {refreshed_at} ms", "'early' before 1,000 ms: refreshed before it expired")


DECISION_CASES = [
    ("a young value with a quick recompute is kept, whatever the draw", young_value_is_kept,
     "the seed's 'under 5 minutes left, 10% of the time' refreshes a value with a minute to live"),
    ("a value at or past its expiry is always recomputed", expired_value_is_recomputed,
     "-delta * beta * ln(u) is never negative, so it is >= any time left <= 0"),
    ("the window grows with the recompute time delta", delta_scales_the_window,
     "-delta_ms * beta * math.log(u) >= ttl_left_ms"),
    ("the window grows with beta", beta_scales_the_window, "multiply by beta"),
    ("in the library's XFetch on Redis, a hot value is refreshed before it expires", refreshes_before_expiry_in_xfetch,
     "return a bool"),
]
