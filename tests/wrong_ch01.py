"""Chapter 01's answers the exercise checks must reject: the seed's naive code and typical wrong answers."""

from whatsapp_cache.codec import CorruptEntry, decode_message, decode_meta, is_meta

def seed_chat_key(user_a, user_b):
    return f"chat:{user_a}:{user_b}"  # the seed's chat:{from}:{to}: one list per direction


def chat_key_without_a_check(user_a, user_b):
    low, high = sorted((user_a, user_b))
    return f"chat:{low}:{high}"


def chat_key_of_the_lower_id(user_a, user_b):
    if user_a == user_b:
        raise ValueError("two users")
    return f"chat:{min(user_a, user_b)}"


def seed_cached_messages(redis, key, now_ms):
    items = redis.lrange(key, 0, -1)  # the seed: any items at all are a hit
    return [decode_message(item) for item in items] if items else None


def cached_messages_without_the_marker_check(redis, key, now_ms):
    items = [item for item in redis.lrange(key, 0, -1) if not is_meta(item)]
    return [decode_message(item) for item in items] or None


def cached_messages_ignoring_expiry(redis, key, now_ms):
    items = redis.lrange(key, 0, -1)
    try:
        decode_meta(items[-1] if items else None)
    except CorruptEntry:
        return None
    return [decode_message(item) for item in items[:-1]]


def cached_messages_in_two_round_trips(redis, key, now_ms):
    if not redis.exists(key):
        return None
    items = redis.lrange(key, 0, -1)
    try:
        if decode_meta(items[-1]).expires_ms <= now_ms:
            return None
    except CorruptEntry:
        return None
    return [decode_message(item) for item in items[:-1]]


WRONG = {
    "chat_key": [("the seed's chat:{from}:{to}", seed_chat_key, "A -> B and B -> A"),
                 ("no check for one user", chat_key_without_a_check, "a user cannot chat with themselves"),
                 ("only the lower id", chat_key_of_the_lower_id, "different pairs")],
    "cached_messages": [("the seed's read", seed_cached_messages, "a complete list is a hit"),
                        ("marker not required", cached_messages_without_the_marker_check, "a list without its marker"),
                        ("expiry ignored", cached_messages_ignoring_expiry, "a list whose marker expired"),
                        ("EXISTS, then LRANGE", cached_messages_in_two_round_trips, "the read is one round trip")],
}
