"""Chapter 02's answers the exercise checks must reject: the seed's naive code and typical wrong answers."""

from whatsapp_cache.keys import new_token

FILL = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def seed_cache_aside_read(redis, keys, load, ttl_ms):
    cached = redis.get(keys.data)  # the seed: GET, else SELECT and SETEX, whatever happened meanwhile
    if cached is not None:
        return cached
    value = load()
    redis.set(keys.data, value, px=ttl_ms)
    return value


def read_filling_without_a_ttl(redis, keys, load, ttl_ms):
    cached = redis.get(keys.data)
    if cached is not None:
        return cached
    redis.set(keys.generation, new_token(), nx=True, px=ttl_ms)
    token = redis.get(keys.generation)
    value = load()
    if redis.get(keys.generation) == token:
        redis.set(keys.data, value)
    return value


def read_filling_with_set_nx(redis, keys, load, ttl_ms):
    cached = redis.get(keys.data)
    if cached is not None:
        return cached
    value = load()
    redis.set(keys.data, value, px=ttl_ms, nx=True)  # NX does not help: the writer's DEL left the key absent
    return value


def read_claiming_after_the_load(redis, keys, load, ttl_ms):
    cached = redis.get(keys.data)
    if cached is not None:
        return cached
    value = load()
    redis.set(keys.generation, new_token(), nx=True, px=ttl_ms)
    token = redis.get(keys.generation)  # too late: the write's new token is already there
    redis.eval(FILL, 2, keys.data, keys.generation, token, value, ttl_ms)
    return value


def read_claiming_with_get_only(redis, keys, load, ttl_ms):
    cached = redis.get(keys.data)
    if cached is not None:
        return cached
    token = redis.get(keys.generation)  # None while no write has happened
    value = load()
    if redis.get(keys.generation) == token:  # None == None once the generation is evicted
        redis.set(keys.data, value, px=ttl_ms)
    return value


def seed_update_status(redis, keys, save, text, ttl_ms):
    save(text)  # the seed: UPDATE, then DEL; a fill already in flight still lands
    redis.delete(keys.data)


def update_deleting_before_saving(redis, keys, save, text, ttl_ms):
    pipe = redis.pipeline(transaction=True)
    pipe.delete(keys.data)
    pipe.set(keys.generation, new_token(), px=ttl_ms)
    pipe.execute()
    save(text)


def update_setting_the_new_value(redis, keys, save, text, ttl_ms):
    save(text)
    redis.set(keys.data, text, px=ttl_ms)  # write-through without a version: a slow fill overwrites it


def update_without_saving(redis, keys, save, text, ttl_ms):
    pipe = redis.pipeline(transaction=True)
    pipe.delete(keys.data)
    pipe.set(keys.generation, new_token(), px=ttl_ms)
    pipe.execute()


WRONG = {
    "cache_aside_read": [
        ("the seed's read (SETEX after the SELECT)", seed_cache_aside_read, "the stale-set race"),
        ("fill without a TTL", read_filling_without_a_ttl, "the fill has a TTL"),
        ("fill with SET NX", read_filling_with_set_nx, "the stale-set race"),
        ("generation claimed after the load", read_claiming_after_the_load, "the stale-set race"),
        ("generation read with GET only", read_claiming_with_get_only, "a generation evicted"),
    ],
    "update_status": [
        ("the seed's UPDATE then DEL", seed_update_status, "the stale-set race"),
        ("invalidate, then save", update_deleting_before_saving, "a read during your database write"),
        ("SET the new value (no version)", update_setting_the_new_value, "the stale-set race"),
        ("forgets the database", update_without_saving, "an update writes the database once"),
    ],
}
