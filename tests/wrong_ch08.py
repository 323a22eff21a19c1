"""Chapter 08's answers the exercise checks must reject: the seed's untagged keys and typical wrong hash tags.

The rules are the Redis Cluster specification's, "Hash tags":
https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
"""

import re

# hash_tag(key) ------------------------------------------------------------------------------------


def whole_key(key):
    return key  # no tags at all: what a client without cluster support hashes


def tag_up_to_the_last_brace(key):
    start, end = key.find("{"), key.rfind("}")  # the last '}', not the first after the '{'
    return key[start + 1:end] if -1 < start < end - 1 else key


def tag_allowing_an_empty_one(key):
    found = re.search(r"\{([^}]*)\}", key)  # '{}' counts as a tag: foo{}{bar} would hash ""
    return found.group(1) if found else key


def tag_skipping_empty_braces(key):
    found = re.search(r"\{([^}]+)\}", key)  # foo{}{bar} hashes "bar"; Redis hashes the whole key
    return found.group(1) if found else key


def tag_with_a_lazy_regex(key):
    found = re.search(r"\{(.+?)\}", key)  # foo{}{bar} hashes "}{bar"
    return found.group(1) if found else key


def tag_from_the_first_brace_anywhere(key):
    start, end = key.find("{"), key.find("}")  # the first '}' of the key, even before the '{'
    return key[start + 1:end] if start != -1 and end > start + 1 else key


# profile_keys(user_id) -> (profile, generation, status) -------------------------------------------

def seed_keys(user_id):
    return f"user:{user_id}:profile", f"user:{user_id}:gen", f"user:{user_id}:status"  # no tag: three slots


def keys_with_empty_braces(user_id):
    return f"user:{{}}:{user_id}:profile", f"user:{{}}:{user_id}:gen", f"user:{{}}:{user_id}:status"


def keys_tagged_by_kind(user_id):
    return f"{{user}}:{user_id}:profile", f"{{user}}:{user_id}:gen", f"{{user}}:{user_id}:status"  # one hot slot


def keys_each_tagged_whole(user_id):
    return f"{{user:{user_id}:profile}}", f"{{user:{user_id}:gen}}", f"{{user:{user_id}:status}}"


def one_key_for_all(user_id):
    return (f"user:{{{user_id}}}",) * 3


WRONG = {
    "hash_tag": [
        ("the whole key", whole_key, "a key with one tag hashes the tag"),
        ("up to the last '}'", tag_up_to_the_last_brace, "only the first '{' and the first '}' after it"),
        ("'{}' taken as a tag", tag_allowing_an_empty_one, "an empty tag '{}' is no tag"),
        ("'{}' skipped, the next tag taken", tag_skipping_empty_braces, "an empty tag '{}' is no tag"),
        ("a lazy regex", tag_with_a_lazy_regex, "an empty tag '{}' is no tag"),
        ("the first '}' anywhere", tag_from_the_first_brace_anywhere, "a '}' before the first '{'"),
    ],
    "profile_keys": [
        ("the seed's untagged keys", seed_keys, "the three keys share one slot"),
        ("empty braces", keys_with_empty_braces, "the three keys share one slot"),
        ("each key tagged whole", keys_each_tagged_whole, "the three keys share one slot"),
        ("one tag for every user", keys_tagged_by_kind, "different users spread"),
        ("one key for all three", one_key_for_all, "returns three different keys"),
    ],
}


# master_for(key, masters) -> index of the master serving the key's slot ----------------------------

def _slot(key):
    from redis.crc import key_slot

    return key_slot(key.encode())


def master_by_modulo(key, masters):
    return _slot(key) % masters  # slots are ranges, not a round robin


def master_by_proportion(key, masters):
    return _slot(key) * masters // 16384  # slot 5461 of 3 masters: 16383 // 16384 = 0, but master 1 serves it


def master_by_fixed_width(key, masters):
    return _slot(key) // (16384 // masters)  # slot 16383 of 3 masters: 16383 // 5461 = 3, a fourth master


def master_ignoring_the_tag(key, masters):
    from binascii import crc_hqx

    slot = crc_hqx(key.encode(), 0) % 16384  # the whole key, braces and all
    return next(i for i in range(masters) if slot <= (i + 1) * 16384 // masters - 1)


WRONG["master_for"] = [
    ("slot modulo masters", master_by_modulo, "keys on the edges"),
    ("slot x masters // 16384", master_by_proportion, "keys on the edges"),
    ("slot // (16384 // masters)", master_by_fixed_width, "keys on the edges"),
    ("the whole key hashed", master_ignoring_the_tag, "a key's hash tag decides its master"),
]
