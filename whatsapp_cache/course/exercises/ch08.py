"""Chapter 08's exercises: the part of a key Redis Cluster hashes, and a key schema whose script stays in one slot.

The hash tag rules are the Redis Cluster specification's ("Hash tags", with its four examples):
https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
A key's slot is CRC16 of the hashed part, modulo 16,384; redis-py's `redis.crc.key_slot`, which the
library's lab uses (lab/distribution.py), implements the same rules and is the reference here.
"""

from __future__ import annotations

from binascii import crc_hqx

from redis.crc import key_slot

from ...keys import KeySchema
from . import Case, expect, exercise

SLOTS = 16_384


def _tag_case(key: str, expected: str):
    def run(hash_tag, _bench) -> None:
        got = hash_tag(key)
        expect(got == expected, f"hash_tag({key!r})", got, repr(expected))
    return run


def _library_keys() -> list[str]:
    """Every kind of key the library writes, for a few entities, and odd shapes around the rules."""
    schema, keys = KeySchema(), []
    for n in range(1, 30):
        user = f"u{n:06d}"
        profile, chat = schema.profile(user), schema.recent_messages(f"dm.{user}.u{n + 1:06d}")
        keys += [profile.data, profile.generation, *profile.siblings, chat.data, chat.generation]
    return keys + [schema.presence(), "{a{b}c}", "}{", "{}", "{", "a}b{c}d", "x{y}{z}", "{{}}", "plain"]


def _slot_matches_redis(hash_tag, _bench) -> None:
    for key in _library_keys():
        got = crc_hqx(hash_tag(key).encode(), 0) % SLOTS
        expect(got == key_slot(key.encode()), f"CRC16(hash_tag({key!r})) % 16384", got,
               f"{key_slot(key.encode())}, the slot Redis gives the key")


@exercise("hash_tag", "08", "the part of a key Redis Cluster hashes",
          hint="find the first '{'; then the first '}' after it; if both exist with at least one character "
               "between them, that is the tag, else the whole key (the cluster spec's 'Hash tags').")
def _hash_tag_cases() -> list[Case]:
    return [Case("a key with one tag hashes the tag", _tag_case("{user1000}.following", "user1000")),
            Case("a key without braces hashes whole", _tag_case("user:1000:following", "user:1000:following")),
            Case("only the first '{' and the first '}' after it count", _tag_case("foo{bar}{zap}", "bar")),
            Case("an empty tag '{}' is no tag: the whole key is hashed", _tag_case("foo{}{bar}", "foo{}{bar}")),
            Case("a '{' inside the tag is part of it", _tag_case("foo{{bar}}zap", "{bar")),
            Case("a '}' before the first '{' closes nothing", _tag_case("foo}bar{zap}", "zap")),
            Case("an unclosed '{' is no tag", _tag_case("foo{bar", "foo{bar")),
            Case("for the library's keys and odd shapes, your tag's slot is the one Redis computes",
                 _slot_matches_redis)]


USER, OTHERS = "u000042", ("u1", "u12", "u2", "u000042x")


def _three_keys(profile_keys, user: str) -> tuple:
    keys = tuple(profile_keys(user))
    expect(len(keys) == 3 and all(isinstance(k, str) and k for k in keys), f"profile_keys({user!r})", keys,
           "three non-empty strings: (profile, generation, status)")
    return keys


def _three_different_keys(profile_keys, _bench) -> None:
    keys = _three_keys(profile_keys, USER)
    expect(len(set(keys)) == 3, f"profile_keys({USER!r})", keys, "three different keys")


def _users_do_not_share_keys(profile_keys, _bench) -> None:
    users = (USER, *OTHERS)
    keys = [key for user in users for key in _three_keys(profile_keys, user)]
    expect(len(set(keys)) == len(keys), f"profile_keys on {users}", keys, "no key shared between two users")


def _one_slot(profile_keys, _bench) -> None:
    keys = _three_keys(profile_keys, USER)
    slots = [key_slot(k.encode()) for k in keys]
    expect(len(set(slots)) == 1, f"the slots of profile_keys({USER!r}) = {keys}", slots,
           "one slot for all three: a cluster refuses a script over keys of different slots (CROSSSLOT)")


def _spread(profile_keys, _bench) -> None:
    users = [f"u{n:06d}" for n in range(1_000)]
    slots = {key_slot(_three_keys(profile_keys, user)[0].encode()) for user in users}
    expect(len(slots) >= 900, "the slots of profile_keys(user)[0] for 1,000 users", f"{len(slots)} different slots",
           "at least 900: each user in a slot of its own (a tag shared by all users makes one master hot)")


SCRIPT = "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1]) end return #KEYS"


def _one_script_on_redis(profile_keys, bench) -> None:
    """On the course's Redis; on a Redis Cluster (`?cluster=true`) keys of different slots are refused for real
    (redis-py's cluster client refuses them before sending; a node answers CROSSSLOT)."""
    namespace = bench.world.keys.namespace
    keys = [f"{namespace}:{key}" for key in _three_keys(profile_keys, USER)]
    redis = bench.world.redis
    try:
        got = redis.eval(SCRIPT, len(keys), *keys, "filled")
        stored = [redis.get(key) for key in keys]
    finally:
        for key in keys:
            redis.delete(key)
    expect(got == 3 and stored == ["filled"] * 3, f"EVAL of one script SETting {keys}", (got, stored),
           "3, and all three keys set")


@exercise("profile_keys", "08", "a key schema that keeps a script's keys in one slot",
          hint="put the user id in a hash tag, the same in all three keys: e.g. user:{u000042}:profile, "
               "user:{u000042}:gen, user:{u000042}:status.")
def _profile_keys_cases() -> list[Case]:
    return [Case("returns three different keys", _three_different_keys),
            Case("different users never share a key", _users_do_not_share_keys),
            Case("the three keys share one slot (no CROSSSLOT for a script over them)", _one_slot),
            Case("different users spread over the slots", _spread),
            Case("on Redis, one script writes all three keys", _one_script_on_redis)]


# Keys whose slots sit on the edges of three masters' ranges (0-5460, 5461-10921, 10922-16383), found by search.
EDGE_KEYS = ("edge:13361", "edge:9520", "edge:22204", "edge:577", "edge:10576", "edge:1728")


def _master_case(keys, masters: int):
    def run(master_for, _bench) -> None:
        from ...lab.distribution import even_split, master_index

        ranges = even_split(masters)
        for key in keys:
            expected, got = master_index(key_slot(key.encode()), ranges), master_for(key, masters)
            first, last = ranges[expected]
            expect(got == expected, f"master_for({key!r}, {masters})", got,
                   f"{expected}: the key's slot is {key_slot(key.encode())}, and master {expected} serves "
                   f"slots {first}-{last}")
    return run


def _tagged_keys() -> list[str]:
    schema = KeySchema()
    return [key for n in range(1, 13) for key in (schema.profile(f"u{n:06d}").data, f"{{g99999#{n}}}")]


@exercise("master_for", "08", "which master serves a key",
          hint="slot = CRC16 of the hash tag (your hash_tag, or redis.crc.key_slot(key.encode())); master i serves "
               "slots i x 16384 // masters to (i + 1) x 16384 // masters - 1.")
def _master_for_cases() -> list[Case]:
    library_keys = _library_keys()
    return [Case("keys on the edges of three masters' slot ranges go to the right master",
                 _master_case(EDGE_KEYS, 3)),
            Case("a key's hash tag decides its master", _master_case(_tagged_keys(), 3)),
            Case("one master serves every key", _master_case(EDGE_KEYS, 1)),
            Case("other numbers of masters agree with the library's even split (the seed's 40 too)",
                 lambda master_for, bench: [_master_case(library_keys, n)(master_for, bench) for n in (2, 5, 7, 40)])]
