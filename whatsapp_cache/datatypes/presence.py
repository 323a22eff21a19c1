"""Online status: one sorted set of last-seen times in Redis; online = seen in the last 5 minutes.

    heartbeat:      MULTI ZADD GT + PEXPIRE -> one round trip, no database write
    online_among:   ZMSCORE of the marker and the asker's contacts -> one round trip
                    no marker (a new or lost set, rebuilt only by heartbeats since): a miss ->
                    every user seen in the window from the database -> MULTI ZADD GT + marker;
                    the answer is whoever either of them saw in the window
    cleanup:        once per interval (a lease), the users who went offline: their last-seen
                    written to the database in one batch, then removed from the set
    Redis away:     a heartbeat writes last-seen to the database instead, and the set loses its
                    marker once Redis is back (the next read merges the database's); online_among
                    asks the database for these users' last-seen times

PerHeartbeatPresence is the naive design: a database UPDATE per heartbeat.
"""

from __future__ import annotations

import redis

from .. import validation
from ..codec import META_PREFIX
from ..errors import InvalidInput, NotFound
from ..resilience import CacheUnavailable
from .base import CachedType, log

MAX_ASKED = 10_000
# Not a valid user id, so it cannot collide with one. Score +inf, so cleanup never removes it. Only a
# full refill writes it, so a set without it may lack users who are online: it is never trusted.
PRESENCE_MARKER = META_PREFIX
CLEANUP_INTERVAL_MS = 60_000
CLEANUP_BATCH = 10_000  # users taken offline per interval at most; the rest wait for the next one
SET_TTL_MS = 24 * 3600 * 1000  # the set outlives any quiet spell; cleanup, not expiry, keeps it small


class Presence(CachedType):
    """Who is online, answered from Redis; the database learns last-seen when a user goes offline.

    The one type whose truth, while a user is online, lives in Redis: a heartbeat every minute from
    every online user is far more writes than the database could take (chapter 07 counts them at
    the seed's scale), and "online" is worth nothing a few minutes later. What that costs: if Redis
    loses the set, the users online then count as offline until their next heartbeat, and users who
    went offline less than a cleanup interval before lose that last-seen (the database keeps the
    one before).
    """

    data_type = "presence"
    persist_every_heartbeat = False

    @property
    def window_ms(self) -> int:
        return self.ttl_ms

    def heartbeat(self, user_id: str) -> None:
        """Record that a user is active now (an authenticated session's user).

        Heartbeats come from authenticated sessions, so they are not checked against the database;
        an unknown id is only recorded by the sorted set (and ignored by the database's UPDATE).
        """
        user_id = validation.entity_id(user_id, "user id")
        now = self.now()
        with self._request("heartbeat") as trace:
            trace.outcome = "write"
            if self.persist_every_heartbeat:
                self._persist(trace, user_id, now)
            # One key, so on a Redis Cluster one slot on one master takes every heartbeat and every
            # "who of my contacts is online". That keeps a contact list's answer at one round trip
            # (ZMSCORE of all of them); a set split by user would cost a round trip per master
            # holding some of them, and need a marker per shard.
            key = self.ctx.keys.presence()
            try:
                self._record(trace, key, user_id, now)
            except CacheUnavailable:
                if not self.persist_every_heartbeat:
                    self._persist(trace, user_id, now)  # Redis away: the database keeps this heartbeat
                if trace.guard is not None:  # the set lacks this heartbeat: the next read merges the database's
                    trace.guard.unmark(key, PRESENCE_MARKER)

    def _record(self, trace, key: str, user_id: str, now: int) -> None:
        """MULTI ZADD GT + PEXPIRE; a foreign value in the key is dropped (logged) and the heartbeat recorded."""
        for attempt in range(2):
            pipe = self.ctx.redis.pipeline(transaction=True)
            pipe.zadd(key, {user_id: now}, gt=True)
            pipe.pexpire(key, SET_TTL_MS)
            try:
                trace.cache(pipe.execute)
                return
            except redis.ResponseError as exc:
                if attempt:
                    raise
                self._drop_foreign(trace, key, exc)

    def _persist(self, trace, user_id: str, now: int) -> None:
        if not trace.db(self.ctx.repo.touch_last_seen, user_id, now):
            raise NotFound(f"no user with id {user_id!r}")

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
                marker, scores = None, []
            in_set = frozenset(u for u, score in zip(user_ids, scores) if score is not None and score > cutoff)
            if marker is not None:
                return in_set
            trace.miss()  # the set may lack users the database knows: ask it, and make the set complete
            recent = trace.db(self.ctx.repo.seen_since, cutoff)
            self._refill(trace, key, recent)
            return in_set | frozenset(u for u in user_ids if u in recent)

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
        pipe.pexpire(key, SET_TTL_MS)
        try:
            trace.cache(pipe.execute)
        except CacheUnavailable:
            pass  # Redis went away after the read: the answer came from the database, the next read refills

    def cleanup(self) -> int | None:
        """Take users who went offline out of the set, their last-seen into the database.

        Any server may call it (on a timer); one per interval does the work. Returns how many
        users were removed, or None if another server already did this interval.
        """
        now = self.now()
        key, lease = self.ctx.keys.presence(), self.ctx.keys.presence_cleanup(now // CLEANUP_INTERVAL_MS)
        with self._request("cleanup") as trace:
            trace.outcome = "write"
            try:
                gone = trace.cache(self.ctx.scripts.went_offline, keys=[key, lease],
                                   args=[now - self.window_ms, CLEANUP_INTERVAL_MS, CLEANUP_BATCH])
                if not gone:
                    return None if gone is None else 0
                seen = dict(zip(gone[::2], (int(float(score)) for score in gone[1::2])))
                trace.db(self.ctx.repo.record_last_seen, seen)  # first the database, then forget them
                return trace.cache(self.ctx.scripts.forget_offline, keys=[key], args=gone)
            except CacheUnavailable:
                return None  # nothing to clean while Redis is away; the next interval does it
            except redis.ResponseError as exc:  # a foreign value in the set's place: dropped, nothing to clean
                self._drop_foreign(trace, key, exc)
                return 0

    def tracked(self) -> int:
        """How many users the sorted set holds (online or not yet cleaned up)."""
        return self.ctx.redis.zcount(self.ctx.keys.presence(), "-inf", "(inf")  # all but the marker


class PerHeartbeatPresence(Presence):
    """The naive design: every heartbeat UPDATEs the database first, then the sorted set.

    The database always has everyone's last-seen, at the price of one write per heartbeat.
    Cleanup only trims the set (the database already knows).
    """

    persist_every_heartbeat = True

    def cleanup(self) -> int | None:
        now = self.now()
        lease = self.ctx.keys.presence_cleanup(now // CLEANUP_INTERVAL_MS)
        with self._request("cleanup") as trace:
            trace.outcome = "write"
            args = [now - self.window_ms, CLEANUP_INTERVAL_MS]
            try:
                removed = trace.cache(self.ctx.scripts.cleanup_presence, keys=[self.ctx.keys.presence(), lease],
                                      args=args)
            except CacheUnavailable:
                return None
            except redis.ResponseError as exc:
                self._drop_foreign(trace, self.ctx.keys.presence(), exc)
                return 0
        return None if removed < 0 else removed


def _checked_ids(user_ids) -> list[str]:
    if isinstance(user_ids, (str, bytes)) or not hasattr(user_ids, "__iter__"):
        raise InvalidInput("user ids must be a list of strings")
    ids = list(dict.fromkeys(validation.entity_id(u, "user id") for u in user_ids))
    if len(ids) > MAX_ASKED:
        raise InvalidInput(f"at most {MAX_ASKED} users per question")
    return ids
