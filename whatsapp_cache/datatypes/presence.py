"""Online status: one sorted set of last-seen times; online = seen in the last 5 minutes.

    heartbeat:      UPDATE users.last_seen (never backwards) -> MULTI ZADD GT + PEXPIRE
    online_among:   ZMSCORE of the marker and the asker's contacts -> one round trip
                    no marker (the set was lost, or rebuilt only by heartbeats since): miss ->
                    every user seen in the window from the database -> MULTI ZADD GT + marker
    cleanup:        ZREMRANGEBYSCORE, run by whichever server first takes the interval's lease
    Redis away:     online_among asks the database for these users' last-seen times; a
                    heartbeat's missed ZADD drops the set once Redis is back (the next read refills it)

The marker member (score +inf, so cleanup never removes it) is written only by a full
refill, so a set without it may lack users who are online: it is never trusted.

On a Redis Cluster the set is one key, so one slot on one master: every heartbeat and every
"who of my contacts is online" lands there, however many masters there are. That keeps a
contact list's answer at one round trip (ZMSCORE of all of them); splitting the set by user
would cost a round trip per master holding some of them, and make the marker per shard.
"""

from __future__ import annotations

import redis

from .. import validation
from ..codec import META_PREFIX
from ..errors import InvalidInput, NotFound
from ..resilience import CacheUnavailable
from .base import CachedType, log

MAX_ASKED = 10_000
PRESENCE_MARKER = META_PREFIX  # not a valid user id, so it cannot collide with one
CLEANUP_INTERVAL_MS = 60_000


class Presence(CachedType):
    """Who is online, answered from Redis; the database keeps last-seen as the source of truth."""

    data_type = "presence"

    @property
    def window_ms(self) -> int:
        return self.ttl_ms

    def heartbeat(self, user_id: str) -> None:
        """Record that a user is active now."""
        user_id = validation.entity_id(user_id, "user id")
        now = self.now()
        with self._request("heartbeat") as trace:
            trace.outcome = "write"
            if not trace.db(self.ctx.repo.touch_last_seen, user_id, now):
                raise NotFound(f"no user with id {user_id!r}")
            key = self.ctx.keys.presence()  # one key: on a cluster, one hot slot (see the module docstring)
            pipe = self.ctx.redis.pipeline(transaction=True)
            pipe.zadd(key, {user_id: now}, gt=True)
            pipe.pexpire(key, self.window_ms)
            try:
                trace.cache(pipe.execute)
            except CacheUnavailable:
                if trace.guard is not None:
                    trace.guard.remember(key)  # the set lacks this heartbeat: rebuild it from the database
            except redis.ResponseError as exc:  # the key holds something foreign: the next read rebuilds it
                self._drop_foreign(trace, key, exc)

    def online_among(self, user_ids: list[str]) -> frozenset[str]:
        """Which of these users (say, my contacts) are online, in one round trip."""
        user_ids = _checked_ids(user_ids)
        if not user_ids:
            return frozenset()
        key = self.ctx.keys.presence()
        cutoff = self.now() - self.window_ms
        with self._request("online_among") as trace:
            try:
                marker, *scores = trace.cache(self.ctx.redis.zmscore, key, [PRESENCE_MARKER, *user_ids])
            except CacheUnavailable:
                trace.outcome = "fallback"
                seen = trace.db(self.ctx.repo.last_seen, user_ids)
                return frozenset(u for u, at in seen.items() if at is not None and at > cutoff)
            except redis.ResponseError as exc:  # a foreign value: a miss, and the refill replaces it
                self._drop_foreign(trace, key, exc)
                marker = None
            if marker is not None:
                return frozenset(u for u, score in zip(user_ids, scores) if score is not None and score > cutoff)
            trace.miss()
            recent = trace.db(self.ctx.repo.seen_since, cutoff)
            self._refill(trace, key, recent)
            return frozenset(u for u in user_ids if u in recent)

    def _drop_foreign(self, trace, key: str, exc: Exception) -> None:
        """A presence key that is not our sorted set: logged as a corrupt entry and deleted."""
        log.warning("corrupt cache entry %s (%s); dropped", key, exc)
        try:
            trace.cache(self.ctx.redis.delete, key)
        except CacheUnavailable:
            if trace.guard is not None:
                trace.guard.remember(key)

    def is_online(self, user_id: str) -> bool:
        return user_id in self.online_among([user_id])

    def _refill(self, trace, key: str, last_seen: dict[str, int]) -> None:
        """Make the set complete: everyone seen in the window (never moving a score back), and the marker."""
        pipe = self.ctx.redis.pipeline(transaction=True)
        if last_seen:
            pipe.zadd(key, last_seen, gt=True)
        pipe.zadd(key, {PRESENCE_MARKER: float("inf")})
        pipe.pexpire(key, self.window_ms)
        try:
            trace.cache(pipe.execute)
        except CacheUnavailable:
            pass  # Redis went away after the read: the answer came from the database, the next read refills

    def cleanup(self) -> int | None:
        """Drop entries older than the window; None if another server already did this interval."""
        now = self.now()
        lease = self.ctx.keys.presence_cleanup(now // CLEANUP_INTERVAL_MS)
        with self._request("cleanup") as trace:
            trace.outcome = "write"
            args = [now - self.window_ms, CLEANUP_INTERVAL_MS]
            try:
                removed = trace.cache(self.ctx.scripts.cleanup_presence, keys=[self.ctx.keys.presence(), lease],
                                      args=args)
            except CacheUnavailable:
                return None  # nothing to clean while Redis is away; the next interval does it
            except redis.ResponseError as exc:  # a foreign value in the set's place: dropped, nothing to clean
                self._drop_foreign(trace, self.ctx.keys.presence(), exc)
                return 0
        return None if removed < 0 else removed

    def tracked(self) -> int:
        """How many users the sorted set holds (online or not yet cleaned up)."""
        return self.ctx.redis.zcount(self.ctx.keys.presence(), "-inf", "(inf")  # all but the marker


def _checked_ids(user_ids) -> list[str]:
    if isinstance(user_ids, (str, bytes)) or not hasattr(user_ids, "__iter__"):
        raise InvalidInput("user ids must be a list of strings")
    ids = list(dict.fromkeys(validation.entity_id(u, "user id") for u in user_ids))
    if len(ids) > MAX_ASKED:
        raise InvalidInput(f"at most {MAX_ASKED} users per question")
    return ids
