"""Invalidating app servers' local caches over pub/sub (the seed's Strategy 3).

    app1.update_profile(u1)                 Redis                          app2, app3
      SQL UPDATE, then DEL user:{u1}:profile
      PUBLISH wc:invalidate {"v":1,"kind":"profile","id":"u1"}  ───────►  drop u1 locally
    appN.get_profile(u1):  local cache ──miss──► Redis ──miss──► SQL

On a Redis Cluster, classic PUBLISH reaches the subscribers of every node (the nodes forward
it on the cluster bus), so AppServer works unchanged.

Pub/sub is fire-and-forget: a server that is not subscribed when a message goes out never
sees it. So every local entry also expires after a short safety TTL (on the world's clock),
and a server flushes its local cache whenever it (re)subscribes (see base.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from .. import validation
from ..datatypes.profiles import Profile
from ..errors import InvalidInput
from ..resilience import UNAVAILABLE
from .base import DEFAULT_LOCAL_TTL_MS, DEFAULT_MAXSIZE, ServerBase, Subscription, channel_node, log

MESSAGE_VERSION = 1
PROFILE = "profile"
KINDS = (PROFILE,)
MAX_MESSAGE_CHARS = 1024           # a valid message is about 50 characters
MAX_CHANNEL_CHARS = 256


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
        node = channel_node(self.client, self.channel)
        options = {} if node is None else {"target_nodes": node}
        return int(self.client.publish(self.channel, encode_message(kind, entity_id), **options))

    def subscribe(self) -> Subscription:
        return Subscription(self.client, self.channel)

    def __repr__(self) -> str:
        return f"InvalidationBus(channel={self.channel!r})"




class AppServer(ServerBase):
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
