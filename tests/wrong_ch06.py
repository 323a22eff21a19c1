"""Chapter 06's answers the exercise checks must reject: the seed's naive code and typical wrong answers."""

import json
import time

import redis as redis_py

# read_with_fallback(redis, key, load, ttl_s) ------------------------------------------------------


def seed_read(redis, key, load, ttl_s):
    cached = redis.get(key)  # the seed's cache-aside: "graceful degradation" claimed, not built
    if cached is not None:
        return json.loads(cached)
    value = load()
    redis.setex(key, ttl_s, json.dumps(value))
    return value


def read_catching_only_connection_errors(redis, key, load, ttl_s):
    try:
        cached = redis.get(key)
        if cached is not None:
            return json.loads(cached)
        value = load()
        redis.set(key, json.dumps(value), ex=ttl_s)
        return value
    except redis_py.ConnectionError:  # a hung Redis raises TimeoutError, which is not a ConnectionError
        return load()


def read_guarding_only_the_get(redis, key, load, ttl_s):
    try:
        cached = redis.get(key)
    except (redis_py.ConnectionError, redis_py.TimeoutError):
        return load()
    if cached is not None:
        return json.loads(cached)
    value = load()
    redis.set(key, json.dumps(value), ex=ttl_s)  # Redis can die between the GET and this SET
    return value


def read_returning_none_when_down(redis, key, load, ttl_s):
    try:
        cached = redis.get(key)
        if cached is not None:
            return json.loads(cached)
        value = load()
        redis.set(key, json.dumps(value), ex=ttl_s)
        return value
    except redis_py.RedisError:
        return None  # "the cache is down" is not an answer; the database has the row


def read_set_then_expire(redis, key, load, ttl_s):
    try:
        cached = redis.get(key)
    except redis_py.RedisError:
        return load()
    if cached is not None:
        return json.loads(cached)
    value = load()
    try:
        redis.set(key, json.dumps(value))
        redis.expire(key, ttl_s)  # the seed's HSET then EXPIRE (bug 5): a crash between leaves no TTL
    except redis_py.RedisError:
        pass
    return value


def read_caching_a_python_repr(redis, key, load, ttl_s):
    try:
        cached = redis.get(key)
        if cached is not None:
            return cached
        value = load()
        redis.set(key, str(value), ex=ttl_s)  # not JSON: a dict's repr, which no reader can decode
        return value
    except redis_py.RedisError:
        return load()


# Breaker(clock, failure_threshold, reset_after_ms) ------------------------------------------------


class _Base:
    def __init__(self, clock, failure_threshold=3, reset_after_ms=5_000):
        self.clock, self.threshold, self.reset_after_ms = clock, failure_threshold, reset_after_ms
        self.state, self.failures, self.opened_ms, self.probing = "closed", 0, 0, False

    def _open(self):
        self.state, self.opened_ms, self.probing = "open", self.clock.now_ms(), False

    def permit(self):
        if self.state == "open" and self.clock.now_ms() - self.opened_ms >= self.reset_after_ms:
            self.state = "half-open"
        if self.state == "half-open":
            if self.probing:
                return "open"
            self.probing = True
        return self.state

    def success(self):
        self.state, self.failures, self.probing = "closed", 0, False

    def failure(self):
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.threshold:
            self._open()


class NoBreaker(_Base):
    """The seed: no breaker at all, every call goes to Redis."""

    def permit(self):
        return "closed"


class BreakerOpeningOneLate(_Base):
    def failure(self):
        self.failures += 1
        if self.state == "half-open" or self.failures > self.threshold:  # > instead of >=
            self._open()


class BreakerCountingEveryFailure(_Base):
    def success(self):
        if self.state != "closed":
            self.state, self.probing = "closed", False
        # the count is never reset: three failures a day apart open the circuit


class BreakerThatNeverProbes(_Base):
    def permit(self):
        return self.state  # open for good: the cache never comes back by itself


class BreakerLettingEveryoneProbe(_Base):
    def permit(self):
        if self.state == "open" and self.clock.now_ms() - self.opened_ms >= self.reset_after_ms:
            self.state = "half-open"
        return self.state  # every caller in half-open hits a Redis that may still be dead


class BreakerKeepingTheFirstOpening(_Base):
    def _open(self):
        if self.state == "closed":
            self.opened_ms = self.clock.now_ms()  # a failed probe does not restart the pause
        self.state, self.probing = "open", False


class BreakerOnTheWallClock(_Base):
    def _open(self):
        self.state, self.opened_ms, self.probing = "open", time.time_ns() // 1_000_000, False

    def permit(self):
        if self.state == "open" and time.time_ns() // 1_000_000 - self.opened_ms >= self.reset_after_ms:
            self.state = "half-open"
        if self.state == "half-open":
            if self.probing:
                return "open"
            self.probing = True
        return self.state


WRONG = {
    "read_with_fallback": [
        ("the seed's read (no fallback)", seed_read, "with Redis down, the database answers"),
        ("returns None when Redis is down", read_returning_none_when_down, "with Redis down, the database answers"),
        ("catches only ConnectionError", read_catching_only_connection_errors,
         "with Redis hung (timeouts), the database answers"),
        ("guards only the GET", read_guarding_only_the_get, "with Redis dying between the read and the write"),
        ("SET, then EXPIRE", read_set_then_expire, "no entry is left without a TTL"),
        ("caches a Python repr, not JSON", read_caching_a_python_repr, "a miss caches the row as JSON"),
    ],
    "Breaker": [
        ("no breaker (the seed)", NoBreaker, "opens after failure_threshold failures in a row"),
        ("opens one failure late", BreakerOpeningOneLate, "opens after failure_threshold failures in a row"),
        ("counts failures not in a row", BreakerCountingEveryFailure, "a success resets the count"),
        ("never probes", BreakerThatNeverProbes, "after the pause lets exactly one probe through"),
        ("lets everyone probe", BreakerLettingEveryoneProbe, "after the pause lets exactly one probe through"),
        ("a failed probe keeps the old pause", BreakerKeepingTheFirstOpening, "a failed probe opens it for another"),
        ("the wall clock, not the injected one", BreakerOnTheWallClock, "after the pause lets exactly one probe"),
    ],
}
