"""What both kinds of app server share: a local cache kept honest by messages on one subscription.

An app server keeps profiles in a local cache in front of world.profiles and drops a copy when a
message says it changed. pubsub.AppServer publishes those messages itself (the seed's Strategy 3);
tracking.TrackingAppServer lets Redis send them (CLIENT TRACKING). Both inherit from ServerBase here:
the local cache and its fetch guard, the subscription (resubscribed and flushed when it was lost),
poll() and the listener thread.

Messages are fire-and-forget: a server that is not subscribed when one goes out never sees it. So
every local entry also expires after a short safety TTL (on the world's clock), and a server flushes
its local cache whenever it (re)subscribes.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, fields
from typing import Any

import redis
from redis.backoff import EqualJitterBackoff

from .. import validation
from ..backends import REDIS_TIMEOUT_S, is_cluster
from ..datatypes.profiles import Profile
from ..errors import InvalidInput, WhatsAppCacheError
from .local_cache import LocalCache

log = logging.getLogger("whatsapp_cache")

DEFAULT_LOCAL_TTL_MS = 30_000
DEFAULT_MAXSIZE = 10_000
MAX_WAIT_S = 60.0
LISTEN_WAIT_S = 0.05               # how long the listener thread blocks per read
MAX_BATCH = 1000                   # messages applied per poll() before it returns
# the listener's wait after n failed tries in a row: 0.05 * 2**(n-1) s, at most 0.5 s, less up to half (jitter)
RETRY_BACKOFF = EqualJitterBackoff(cap=0.5, base=0.025)


def channel_node(client, channel: str):
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
        node = channel_node(client, channel)
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


class ServerBase:
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


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_WAIT_S:
        raise InvalidInput(f"{what} must be a number of seconds from 0 to {MAX_WAIT_S:g}, got {value!r}")
    return float(value)
