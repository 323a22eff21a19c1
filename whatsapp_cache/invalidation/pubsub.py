"""Invalidating app servers' local caches over pub/sub (the seed's Strategy 3) or Redis tracking.

    app1.update_profile(u1)                 Redis                          app2, app3
      SQL UPDATE, then DEL user:{u1}:profile
      PUBLISH wc:invalidate {"v":1,"kind":"profile","id":"u1"}  ───────►  drop u1 locally
    appN.get_profile(u1):  local cache ──miss──► Redis ──miss──► SQL

On a Redis Cluster, classic PUBLISH reaches the subscribers of every node (the nodes forward
it on the cluster bus), so AppServer works unchanged; TrackingAppServer refuses a cluster.

Pub/sub is fire-and-forget: a server that is not subscribed when a message goes out never
sees it. So every local entry also expires after a short safety TTL (on the world's clock),
and a server flushes its local cache whenever it (re)subscribes. TrackingAppServer lets Redis
send the invalidations itself (CLIENT TRACKING, Redis 6+): it needs a real redis-server.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import weakref
from dataclasses import dataclass, fields
from typing import Any

import redis
from redis.backoff import EqualJitterBackoff

from .. import validation
from ..backends import ENCODING_ERRORS, REDIS_TIMEOUT_S, is_cluster
from ..datatypes.profiles import Profile, Profiles
from ..datatypes.scripts import Scripts
from ..errors import InvalidInput, WhatsAppCacheError
from .local_cache import LocalCache
from ..resilience import UNAVAILABLE

log = logging.getLogger("whatsapp_cache")

MESSAGE_VERSION = 1
PROFILE = "profile"
KINDS = (PROFILE,)
MAX_MESSAGE_CHARS = 1024           # a valid message is about 50 characters
MAX_CHANNEL_CHARS = 256
TRACKING_CHANNEL = "__redis__:invalidate"
DEFAULT_LOCAL_TTL_MS = 30_000
DEFAULT_MAXSIZE = 10_000
MAX_WAIT_S = 60.0
LISTEN_WAIT_S = 0.05               # how long the listener thread blocks per read
MAX_BATCH = 1000                   # messages applied per poll() before it returns
# the listener's wait after n failed tries in a row: 0.05 * 2**(n-1) s, at most 0.5 s, less up to half (jitter)
RETRY_BACKOFF = EqualJitterBackoff(cap=0.5, base=0.025)
# Connections a TrackingAppServer opens itself; RESP2, so Redis sends invalidations to a
# redirect target as pub/sub messages on __redis__:invalidate (RESP3 would use push replies).
TRACKING_CLIENT_OPTIONS = {"decode_responses": True, "encoding_errors": ENCODING_ERRORS, "protocol": 2,
                           "socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}


@dataclass(frozen=True)
class Invalidation:
    """One decoded message: which kind of entity changed, and its id."""

    kind: str
    entity_id: str


def encode_message(kind: str, entity_id: str) -> str:
    """The wire form: small, versioned JSON (never pickle: a subscriber must not run what it receives)."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInput(f"kind must be one of {list(KINDS)}, got {kind!r}")
    entity_id = validation.entity_id(entity_id, f"{kind} id")
    return json.dumps({"v": MESSAGE_VERSION, "kind": kind, "id": entity_id}, separators=(",", ":"))


def decode_message(payload: object) -> Invalidation:
    """Parse and check one message; InvalidInput says why it cannot be used. Extra fields are ignored."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("message is not UTF-8 text") from None
    if not isinstance(payload, str):
        raise InvalidInput(f"message must be text, not {type(payload).__name__}")
    if len(payload) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"message has {len(payload)} characters; the limit is {MAX_MESSAGE_CHARS}")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        raise InvalidInput("message is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"message must be a JSON object, not {type(data).__name__}")
    version = data.get("v")
    if type(version) is not int or version != MESSAGE_VERSION:  # True == 1 in Python
        raise InvalidInput(f"unsupported message version {version!r}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInput(f"unknown kind {str(kind)[:40]!r}")
    return Invalidation(kind, validation.entity_id(data.get("id"), f"{kind} id"))


class InvalidationBus:
    """Publishes invalidations on one channel and opens subscriptions to it."""

    def __init__(self, client: redis.Redis, channel: str):
        if not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL_CHARS or not channel.isprintable():
            raise InvalidInput(f"channel must be 1-{MAX_CHANNEL_CHARS} printable characters, got {channel!r:.80}")
        self.client = client
        self.channel = channel

    def publish(self, kind: str, entity_id: str) -> int:
        """Announce that an entity changed; return how many subscribers got it (0: nobody listened)."""
        node = _channel_node(self.client, self.channel)
        options = {} if node is None else {"target_nodes": node}
        return int(self.client.publish(self.channel, encode_message(kind, entity_id), **options))

    def subscribe(self) -> Subscription:
        return Subscription(self.client, self.channel)

    def __repr__(self) -> str:
        return f"InvalidationBus(channel={self.channel!r})"


def _channel_node(client, channel: str):
    """On a Redis Cluster: the node serving the channel's slot, for publishers and subscribers alike.

    Every node delivers a PUBLISH to its own subscribers and forwards it to the others, but its
    reply counts only its own: with everyone on one node the count is every server again.
    """
    return client.get_node_from_key(channel) if is_cluster(client) else None


class Subscription:
    """One subscribed connection that knows its server-side client id and notices silent reconnects.

    redis-py may reconnect and resubscribe a pub/sub connection on its own; whatever was
    published in between is lost, so `lost` turns True and the owner must flush.
    """

    def __init__(self, client: redis.Redis, channel: str):
        self.channel = channel
        self.lost = False
        node = _channel_node(client, channel)
        self._pubsub = client.pubsub() if node is None else client.pubsub(node=node)
        try:
            self.client_id = self._ask_client_id()
            self._pubsub.subscribe(channel)
            self._await_confirmation()
            self._pubsub.connection.register_connect_callback(self._on_reconnect)
        except BaseException:
            self._pubsub.close()
            raise

    def _ask_client_id(self) -> int | None:
        """CLIENT ID on this very connection, before SUBSCRIBE (RESP2 allows nothing else after)."""
        self._pubsub.execute_command("CLIENT", "ID")
        try:
            reply = self._pubsub.parse_response(block=False, timeout=REDIS_TIMEOUT_S)
        except redis.ResponseError:
            return None
        if reply is None:
            raise redis.TimeoutError("no reply to CLIENT ID")
        return reply if isinstance(reply, int) else None

    def _await_confirmation(self) -> None:
        """Return once the server has registered the subscription: later messages cannot be missed."""
        message = self._pubsub.get_message(timeout=REDIS_TIMEOUT_S)
        if not message or message.get("type") != "subscribe":
            raise redis.TimeoutError(f"no confirmation of SUBSCRIBE {self.channel}")

    def _on_reconnect(self, _connection) -> None:
        self.lost = True

    def read(self, timeout: float) -> dict | None:
        """The next message (a dict from redis-py), or None if none arrives within `timeout` seconds."""
        return self._pubsub.get_message(timeout=timeout)

    def close(self) -> None:
        connection = self._pubsub.connection
        if connection is not None:
            connection.deregister_connect_callback(self._on_reconnect)
        self._pubsub.close()


@dataclass(frozen=True)
class ServerStats:
    """An app server's counters; `invalidations` counts messages applied, `dropped` local entries they removed."""

    local_hits: int = 0
    local_misses: int = 0
    invalidations: int = 0
    dropped: int = 0
    ignored: int = 0
    flushes: int = 0
    reconnects: int = 0
    errors: int = 0

    @property
    def local_hit_ratio(self) -> float:
        reads = self.local_hits + self.local_misses
        return self.local_hits / reads if reads else 0.0


class _ServerBase:
    """What both app servers share: the local cache, its fetch guard, poll() and the listener thread.

    The guard closes the classic race: a fetch that read the old value, then an invalidation
    applied, then the fetch storing the old value for a whole TTL. Each fetch notes how many
    invalidations of its key were applied so far and stores its result only if none came since.
    """

    def __init__(self, name: str, world, local_ttl_ms: int, maxsize: int):
        self.name = validation.entity_id(name, "server name")
        self.world = world
        self.local = LocalCache(world.clock, validation.positive_int(local_ttl_ms, "local_ttl_ms"),
                                validation.positive_int(maxsize, "maxsize"))
        self._lock = threading.Lock()      # local cache changes, fetches in flight, counters
        self._inflight: dict[str, list[int]] = {}   # user id -> [fetches running, invalidations since]
        self._counts = {f.name: 0 for f in fields(ServerStats)}
        self._io = threading.RLock()       # the subscription: one reader at a time
        self._sub: Subscription | None = None
        self._wanted = True                # False between disconnect() and reconnect()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- reads and writes -------------------------------------------------------------

    def get_profile(self, user_id: str) -> Profile:
        """The profile from the local cache, else from Redis or the database (then kept locally)."""
        user_id = validation.entity_id(user_id, "user id")
        profile = self.local.get(user_id)
        if profile is not None:
            self._count("local_hits")
            return profile
        self._count("local_misses")
        with self._lock:
            ticket = self._inflight.setdefault(user_id, [0, 0])
            ticket[0] += 1
            seen = ticket[1]
            self._register(user_id)
        cacheable = False
        try:
            profile, cacheable = self._fetch(user_id)
        finally:
            with self._lock:
                ticket[0] -= 1
                if cacheable and ticket[1] == seen:
                    self.local.set(user_id, profile)
                if ticket[0] == 0:
                    del self._inflight[user_id]
        return profile

    def peek(self, user_id: str) -> Profile | None:
        """The local copy, if any, without touching Redis or the counters."""
        return self.local.get(validation.entity_id(user_id, "user id"))

    def _drop_own(self, user_id: str) -> None:
        with self._lock:
            self._forget([user_id])

    def _forget(self, user_ids) -> int:
        """Drop local copies and spoil fetches in flight; the caller holds self._lock."""
        dropped = 0
        for user_id in user_ids:
            ticket = self._inflight.get(user_id)
            if ticket is not None:
                ticket[1] += 1
            dropped += self.local.delete(user_id)
        return dropped

    def _flush(self, reason: str) -> None:
        with self._lock:
            for ticket in self._inflight.values():
                ticket[1] += 1
            self.local.clear()
            self._forget_all()
            self._counts["flushes"] += 1
        log.info("%s flushed its local cache: %s", self.name, reason)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    @property
    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(**self._counts)

    # ---- the subscription ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._sub is not None

    @property
    def subscriber_id(self) -> int | None:
        """The server-side client id of the subscribed connection (for CLIENT KILL ID), if known."""
        sub = self._sub
        return sub.client_id if sub is not None else None

    def poll(self, wait_s: float = 0.0) -> int:
        """Apply every invalidation that has arrived; if none has, wait up to `wait_s` for one.

        Returns how many messages were applied. A live server delivers a message a moment
        after PUBLISH returns, so pass a small wait_s (or call again) when one is expected.
        """
        wait_s = _seconds(wait_s, "wait_s")
        with self._io:
            return self._drain(wait_s)

    def _drain(self, wait_s: float) -> int:
        if self._sub is None and not (self._wanted and self._resubscribe("the subscription was down")):
            return 0
        applied, timeout = 0, wait_s
        try:
            for _ in range(MAX_BATCH):
                message = self._sub.read(timeout)
                if message is not None and message.get("type") == "message":
                    applied += self._apply(message.get("data"))
                if self._sub.lost:
                    if not self._resubscribe("redis-py reconnected the subscription; messages may be lost"):
                        break
                elif message is None:
                    break
                timeout = 0.0
        except redis.RedisError as exc:
            self._count("errors")
            log.warning("%s: subscription failed (%s: %s); subscribing again", self.name, type(exc).__name__, exc)
            self._close_subscription()
            if self._wanted:
                self._resubscribe(f"the subscription failed ({type(exc).__name__})")
        return applied

    def _resubscribe(self, reason: str, raise_errors: bool = False) -> bool:
        """Open a fresh subscription, then flush: anything published while down is lost."""
        self._close_subscription()
        try:
            sub = self._open()
        except redis.RedisError as exc:
            self._count("errors")
            if raise_errors:
                raise
            log.warning("%s: cannot subscribe (%s: %s)", self.name, type(exc).__name__, exc)
            return False
        self._count("reconnects")
        self._flush(reason)
        self._sub = sub
        return True

    def _close_subscription(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                sub.close()
            except Exception as exc:  # closing a broken connection must not stop the caller
                log.debug("%s: closing the subscription failed: %s", self.name, exc)

    def disconnect(self) -> None:
        """Close the subscription: invalidations published meanwhile are lost; local copies stay until their TTL."""
        with self._io:
            self._wanted = False
            self._close_subscription()

    def reconnect(self) -> None:
        """Subscribe again and flush the local cache, which may have missed invalidations."""
        with self._io:
            self._wanted = True
            self._resubscribe("reconnect()", raise_errors=True)

    # ---- the listener thread --------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Apply invalidations on a background thread as they arrive, until stop()."""
        if self._thread is not None:
            raise WhatsAppCacheError(f"{self.name} is already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name=f"invalidations-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the listener thread (no-op if not started)."""
        timeout_s = _seconds(timeout_s, "timeout_s")
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout_s)
        if thread.is_alive():
            raise WhatsAppCacheError(f"the listener of {self.name} did not stop within {timeout_s} s")

    def _listen(self) -> None:
        failures = 0  # tries in a row that found no subscription
        while not self._stop.is_set():
            try:
                with self._io:
                    self._drain(LISTEN_WAIT_S)
                    up = self._sub is not None or not self._wanted
            except Exception:  # the listener must never die silently
                log.exception("%s: invalidation listener failed", self.name)
                self._count("errors")
                with self._io:
                    self._close_subscription()
                up = False
            if up:
                failures = 0
                self._stop.wait(0.001 if self._wanted else LISTEN_WAIT_S)  # lets poll()/disconnect() in
            else:
                failures += 1
                self._stop.wait(RETRY_BACKOFF.compute(failures))

    def close(self) -> None:
        self.stop()
        with self._io:
            self._wanted = False
            self._close_subscription()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else ("connected" if self.connected else "disconnected")
        return f"<{type(self).__name__} {self.name!r} {state}, {len(self.local)} local entries>"

    # ---- what each kind of server fills in --------------------------------------------------

    def _open(self) -> Subscription:
        raise NotImplementedError

    def _fetch(self, user_id: str) -> tuple[Profile, bool]:
        """The profile and whether it may be kept locally."""
        raise NotImplementedError

    def _apply(self, payload: Any) -> int:
        """Apply one message's payload; 1 if it was an invalidation, 0 if it was ignored."""
        raise NotImplementedError

    def _register(self, user_id: str) -> None:
        """A fetch of `user_id` begins (called under self._lock)."""

    def _forget_all(self) -> None:
        """The local cache was flushed (called under self._lock)."""


class AppServer(_ServerBase):
    """One application server: a local cache in front of world.profiles, kept honest by pub/sub.

        app1, app2 = AppServer("app1", world), AppServer("app2", world)
        app2.get_profile("u000001")                            # SQL, then Redis, then local
        app1.update_profile("u000001", status_message="hi")    # SQL, DEL in Redis, PUBLISH
        app2.poll()                                            # app2 drops its copy
    """

    def __init__(self, name: str, world, *, local_ttl_ms: int = DEFAULT_LOCAL_TTL_MS,
                 maxsize: int = DEFAULT_MAXSIZE):
        super().__init__(name, world, local_ttl_ms, maxsize)
        self.bus = InvalidationBus(world.redis, world.keys.invalidation_channel())
        self._subscribe_at_start()

    @property
    def channel(self) -> str:
        return self.bus.channel

    def _subscribe_at_start(self) -> None:
        """Subscribe now; a Redis that does not answer is logged, as World logs it, and the next
        poll() (or the listener thread) subscribes once it does. Until then the local cache is empty."""
        try:
            self._sub = self._open()
        except UNAVAILABLE as exc:
            self._count("errors")
            log.warning("%s: cannot subscribe at start (%s); subscribing when Redis answers", self.name,
                        type(exc).__name__)

    def update_profile(self, user_id: str, **changes: str) -> int:
        """Write through the library (SQL first, then DEL in Redis), then publish; return how many servers got it.

        The write is done once the database has it: a Redis that does not answer the PUBLISH
        is logged and 0 returned, never raised. Servers cut off from Redis too flush their local
        caches when they subscribe again; any other copy lives until its safety TTL.
        """
        user_id = validation.entity_id(user_id, "user id")
        self.world.profiles.update(user_id, **changes)
        self._drop_own(user_id)
        try:
            return self.bus.publish(PROFILE, user_id)
        except UNAVAILABLE as exc:
            self._count("errors")
            log.warning("%s: profile of %s stored, but the invalidation was not published (%s)", self.name,
                        user_id, type(exc).__name__)
            return 0

    def _open(self) -> Subscription:
        return self.bus.subscribe()

    def _fetch(self, user_id: str) -> tuple[Profile, bool]:
        return self.world.profiles.get(user_id), True

    def _apply(self, payload: Any) -> int:
        try:
            invalidation = decode_message(payload)
        except InvalidInput as exc:
            self._count("ignored")
            log.warning("%s ignored a malformed message on %s: %s", self.name, self.channel, exc)
            return 0
        with self._lock:
            self._counts["invalidations"] += 1
            self._counts["dropped"] += self._forget([invalidation.entity_id])
        return 1


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


class TrackingAppServer(_ServerBase):
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


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_WAIT_S:
        raise InvalidInput(f"{what} must be a number of seconds from 0 to {MAX_WAIT_S:g}, got {value!r}")
    return float(value)
