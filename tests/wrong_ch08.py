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
