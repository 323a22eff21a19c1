"""What the benchmark scripts share: whether the live Redis they were pointed at answers."""

from __future__ import annotations

import redis


def answers(redis_url: str) -> bool:
    """True if a Redis answers at `redis_url`; else say so (the script then measures fakeredis only)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        print(f"live Redis {redis_url} unavailable ({type(exc).__name__}: {exc}); measuring fakeredis only")
        return False
    finally:
        client.close()
