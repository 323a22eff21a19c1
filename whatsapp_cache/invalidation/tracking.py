"""Invalidating app servers' local caches with Redis' own CLIENT TRACKING (server-assisted client-side caching).

TrackingAppServer lets Redis send the invalidations itself (Redis 6+): Redis remembers which keys
each server read and tells it when one changes, whoever changes it. It needs a real redis-server
(fakeredis has no CLIENT TRACKING) and refuses a Redis Cluster.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import redis

from .. import validation
from ..backends import ENCODING_ERRORS, REDIS_TIMEOUT_S
from ..datatypes.profiles import Profile, Profiles
from ..datatypes.scripts import Scripts
from ..errors import InvalidInput, WhatsAppCacheError
from .base import DEFAULT_LOCAL_TTL_MS, DEFAULT_MAXSIZE, ServerBase, Subscription, log

TRACKING_CHANNEL = "__redis__:invalidate"
# Connections a TrackingAppServer opens itself; RESP2, so Redis sends invalidations to a
# redirect target as pub/sub messages on __redis__:invalidate (RESP3 would use push replies).
TRACKING_CLIENT_OPTIONS = {"decode_responses": True, "encoding_errors": ENCODING_ERRORS, "protocol": 2,
                           "socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}


def supports_tracking(client: redis.Redis) -> bool:
    """Whether `client`'s server offers CLIENT TRACKING with REDIRECT (redis-server 6.2+; fakeredis: no)."""
    try:
        client.execute_command("CLIENT", "TRACKINGINFO")
    except redis.RedisError:
        return False
    return True


class TrackingRefused(redis.ConnectionError):
    """Redis would not turn tracking on for a data connection (its redirect target is gone)."""


class _TrackingHook:
    """redis-py's connect hook for data connections: the handshake, then CLIENT TRACKING ON.

    A connection that connects a second time was dropped: Redis forgot every key it had
    read for it, so the server's local copies can no longer be invalidated and must go.
    """

    def __init__(self, args: list, on_reconnect):
        self.args = args
        self.on_reconnect = on_reconnect
        self.seen: weakref.WeakSet = weakref.WeakSet()

    def __call__(self, connection) -> None:
        connection.on_connect()
        connection.send_command(*self.args)
        try:
            reply = connection.read_response()
        except redis.ResponseError as exc:
            raise TrackingRefused(str(exc)) from None
        if reply not in ("OK", b"OK"):
            raise TrackingRefused(f"unexpected reply {reply!r}")
        if connection in self.seen:
            self.on_reconnect()
        self.seen.add(connection)


class TrackingAppServer(ServerBase):
    """The same app server, but Redis sends the invalidations itself (server-assisted client-side caching).

    Reads go through data connections set to CLIENT TRACKING ON REDIRECT <id>: Redis remembers
    which keys this server read and, when one changes (whoever changes it), sends its name to
    client <id>, this server's connection subscribed to __redis__:invalidate. Writes just write.
    With bcast=True Redis reports every change under the profile keys' prefix instead.
    A dropped data connection is noticed when it is next used (its reconnect flushes, since
    Redis forgot what it had read); until then local hits rely on the safety TTL.
    Needs a real redis-server: fakeredis has no CLIENT TRACKING.
    """

    def __init__(self, name: str, world, *, local_ttl_ms: int = DEFAULT_LOCAL_TTL_MS,
                 maxsize: int = DEFAULT_MAXSIZE, bcast: bool = False):
        if not isinstance(bcast, bool):
            raise InvalidInput("bcast must be True or False")
        if world.config.redis_cluster:
            raise WhatsAppCacheError(
                "TrackingAppServer needs one redis-server: CLIENT TRACKING REDIRECT sends a key's "
                "invalidations only to a client connected to the node that holds it, so one listener "
                "cannot hear a whole Redis Cluster. Use AppServer (pub/sub works cluster-wide).")
        if world.config.redis_url is None or not supports_tracking(world.redis):
            raise WhatsAppCacheError(
                f"TrackingAppServer needs a real redis-server (6.2 or newer) with CLIENT TRACKING; "
                f"{world.config.redis_label} has none. Build the World with redis_url='redis://...'.")
        super().__init__(name, world, local_ttl_ms, maxsize)
        self.bcast = bcast
        # every profile key starts with this (user:{id}:profile and its generation counter)
        self.prefix = world.keys.profile("x").data.partition("{")[0]
        self._owners: dict[str, str] = {}   # Redis key -> the user id whose local copy it backs
        self._data: redis.Redis | None = None
        self._profiles: Profiles | None = None
        self._retired: list[redis.Redis] = []
        self._listener_client = redis.Redis.from_url(world.config.redis_url, **TRACKING_CLIENT_OPTIONS)
        try:
            self._sub = self._open()
        except BaseException:
            self._listener_client.close()
            raise

    @property
    def channel(self) -> str:
        return TRACKING_CHANNEL

    def update_profile(self, user_id: str, **changes: str) -> None:
        """Write through the library (SQL first, then DEL in Redis); Redis tells the servers that read it."""
        user_id = validation.entity_id(user_id, "user id")
        self._profiles.update(user_id, **changes)
        self._drop_own(user_id)

    def _open(self) -> Subscription:
        sub = Subscription(self._listener_client, TRACKING_CHANNEL)
        try:
            self._use_redirect(sub.client_id)
        except BaseException:
            sub.close()
            raise
        return sub

    def _use_redirect(self, client_id: int | None) -> None:
        """Fresh data connections, tracked with invalidations sent to `client_id`.

        Connections of the old client keep redirecting to a dead id; fetches still running
        on them finish, and the flush that follows keeps their results out of the local cache.
        """
        if client_id is None:
            raise redis.ResponseError("the invalidation connection has no CLIENT ID")
        args = ["CLIENT", "TRACKING", "ON", "REDIRECT", client_id]
        if self.bcast:
            args += ["BCAST", "PREFIX", self.prefix]
        hook = _TrackingHook(args, self._data_reconnected)
        client = redis.Redis.from_url(self.world.config.redis_url, redis_connect_func=hook, **TRACKING_CLIENT_OPTIONS)
        context = dataclasses.replace(self.world.profiles.ctx, redis=client, scripts=Scripts(client))
        old, self._data, self._profiles = self._data, client, Profiles(context)
        if old is not None:
            old.connection_pool.disconnect(inuse_connections=False)
            self._retired.append(old)

    def _data_reconnected(self) -> None:
        self._flush("a data connection reconnected; Redis forgot the keys it had read")

    def _fetch(self, user_id: str) -> tuple[Profile, bool]:
        try:
            return self._profiles.get(user_id), True
        except TrackingRefused as exc:
            # the invalidation connection is gone and not yet replaced: read, but keep nothing
            log.warning("%s: tracking refused (%s); reading without a local copy", self.name, exc)
            return self.world.profiles.get(user_id), False

    def _register(self, user_id: str) -> None:
        keys = self.world.keys.profile(user_id)
        self._owners[keys.data] = user_id
        self._owners[keys.generation] = user_id

    def _forget_all(self) -> None:
        self._owners.clear()

    def _apply(self, payload: Any) -> int:
        if payload is None:  # FLUSHDB / FLUSHALL, or Redis dropped its tracking table
            self._count("invalidations")
            self._flush("Redis invalidated everything")
            return 1
        if not isinstance(payload, list) or not all(isinstance(key, str) for key in payload):
            self._count("ignored")
            log.warning("%s ignored a malformed message on %s: %s", self.name, TRACKING_CHANNEL,
                        f"expected a list of key names, got {type(payload).__name__}")
            return 0
        with self._lock:
            user_ids = {self._owners[key] for key in payload if key in self._owners}
            self._counts["invalidations"] += 1
            self._counts["dropped"] += self._forget(user_ids)
        return 1

    def close(self) -> None:
        super().close()
        for client in (self._data, *self._retired, self._listener_client):
            if client is not None:
                client.close()
        self._retired.clear()
