"""Chapter 05's answers the checks must reject: the seed's Q4 lock and "early expiration", and typical wrong answers."""

import math
import secrets


def seed_acquire_lock(redis, key, lock_ms):
    return redis.set(key, "locked", nx=True, ex=10)  # the seed: SET lock locked NX EX 10; no token


def acquire_lock_with_a_constant(redis, key, lock_ms):
    return "locked" if redis.set(key, "locked", nx=True, px=lock_ms) else None


def acquire_lock_without_expiry(redis, key, lock_ms):
    token = secrets.token_hex(16)
    return token if redis.set(key, token, nx=True) else None


def acquire_lock_by_get_then_set(redis, key, lock_ms):
    if redis.get(key) is not None:
        return None
    token = secrets.token_hex(16)
    redis.set(key, token, px=lock_ms)  # another reader can take it between the GET and this SET
    return token


def release_lock_by_plain_del(redis, key, token):
    return bool(redis.delete(key))  # the seed never releases its lock; the obvious fix, DEL, frees whoever holds it now


def release_lock_by_get_then_del(redis, key, token):
    if redis.get(key) == token:
        return bool(redis.delete(key))  # the lock may have changed hands since the GET
    return False


def release_lock_returning_the_count(redis, key, token):
    return redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
                      "return 0", 1, key, token)  # 1 or 0, not True or False


def seed_xfetch_decision(ttl_left_ms, delta_ms, beta, u):
    return ttl_left_ms < 300_000 and u < 0.1  # the seed: under 5 minutes left, refresh 10% of the time


def xfetch_decision_ignoring_delta(ttl_left_ms, delta_ms, beta, u):
    return -1_000 * beta * math.log(u) >= ttl_left_ms  # a fixed one-second window


def xfetch_decision_ignoring_beta(ttl_left_ms, delta_ms, beta, u):
    return -delta_ms * math.log(u) >= ttl_left_ms


def xfetch_decision_only_before_expiry(ttl_left_ms, delta_ms, beta, u):
    return ttl_left_ms > 0 and -delta_ms * beta * math.log(u) >= ttl_left_ms


WRONG = {
    "acquire_lock": [
        ("the seed's SET locked NX EX 10", seed_acquire_lock, "a free lock is taken"),
        ("a constant value", acquire_lock_with_a_constant, "every acquisition gets its own token"),
        ("no expiry", acquire_lock_without_expiry, "the lock always expires"),
        ("GET, then SET", acquire_lock_by_get_then_set, "taking the lock is one step"),
    ],
    "release_lock": [
        ("the seed's lock released by a plain DEL", release_lock_by_plain_del, "a holder whose lock expired"),
        ("GET, compare, then DEL", release_lock_by_get_then_del, "compare and delete is one step"),
        ("returns 1 or 0", release_lock_returning_the_count, "the holder releases its own lock"),
    ],
    "xfetch_decision": [
        ("the seed's 10% when under 5 minutes", seed_xfetch_decision, "a young value"),
        ("ignores delta", xfetch_decision_ignoring_delta, "the window grows with the recompute time"),
        ("ignores beta", xfetch_decision_ignoring_beta, "the window grows with beta"),
        ("never once expired", xfetch_decision_only_before_expiry, "a value at or past its expiry"),
    ],
}
