"""Chapter 03's answers the exercise checks must reject: the seed's naive code and typical wrong answers."""

import random

from whatsapp_cache.patterns.base import decode_record


def seed_after_commit(redis, keys, record, version, ttl_ms):
    redis.set(keys.data, record, px=ttl_ms)  # the seed's "OR update cache directly": the last writer wins


def after_commit_comparing_in_python(redis, keys, record, version, ttl_ms):
    cached = redis.get(keys.data)
    if cached is None or decode_record(cached)[0].version < version:
        redis.set(keys.data, record, px=ttl_ms)  # another writer can SET between the GET and this SET


def after_commit_without_a_ttl(redis, keys, record, version, ttl_ms):
    redis.eval("""
local cached = redis.call('GET', KEYS[1])
if cached then
  local v = tonumber(string.match(cached, '^{"version":(%d+),'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1""", 1, keys.data, version, record)


def after_commit_doing_nothing(redis, keys, record, version, ttl_ms):
    pass  # TTL only: the old value stays until it expires


def seed_jittered_ttl(base_s, spread_s, rng):
    return base_s + rng.random() * spread_s  # the seed's 3600 + Math.random() * 300: a float


def jittered_ttl_without_jitter(base_s, spread_s, rng):
    return base_s


def jittered_ttl_both_ways(base_s, spread_s, rng):
    return base_s + rng.randint(-spread_s, spread_s)


def jittered_ttl_from_the_global_random(base_s, spread_s, rng):
    return base_s + random.randint(0, spread_s)


def jittered_ttl_in_milliseconds(base_s, spread_s, rng):
    return (base_s + rng.randint(0, spread_s)) * 1000


WRONG = {
    "after_commit": [
        ("the seed's update on write (no version check)", seed_after_commit,
         "two writers whose cache steps arrive out of order"),
        ("TTL only, no invalidation", after_commit_doing_nothing, "after a write, the next read"),
        ("versions compared in Python", after_commit_comparing_in_python, "a version check is atomic"),
        ("SET if newer, without a TTL", after_commit_without_a_ttl, "an updated entry still expires"),
    ],
    "jittered_ttl": [
        ("the seed's 3600 + Math.random()*300", seed_jittered_ttl, "Redis' SETEX accepts it"),
        ("no jitter", jittered_ttl_without_jitter, "the TTLs spread evenly"),
        ("jitter both ways", jittered_ttl_both_ways, "every TTL lies in"),
        ("the random module, not rng", jittered_ttl_from_the_global_random, "the same seed gives the same TTLs"),
        ("milliseconds", jittered_ttl_in_milliseconds, "every TTL lies in"),
    ],
}
