"""Recent messages: one newest-first list of the last 100 per conversation (1 h).

    read:  LRANGE chat:{conv}:recent 0 -1   -> complete and fresh? hit
           miss -> SELECT ... ORDER BY id DESC LIMIT 100 (one query, which also tells an unknown
                   conversation from an empty one) -> FILL (refused if a send came first)
    send:  INSERT -> PUSH_MESSAGE (inserts in id order, skips duplicates, only into a complete list)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import redis

from .. import validation
from ..codec import CorruptEntry, decode_message, encode_message
from ..db.repository import direct_conversation_id
from ..errors import InvalidInput, NotFound
from ..resilience import CacheUnavailable
from .base import CachedType, decoded_record, log
from ..keys import new_token

RECENT_LIMIT = 100


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: str
    sender_id: str
    body: str
    sent_ms: int


class RecentMessages(CachedType):
    """The chat view's last 100 messages, under one canonical key per conversation."""

    data_type = "messages"
    serve_stale = True  # a chat view without the last minutes' messages, rather than an error

    def conversation_between(self, user_a: str, user_b: str) -> str:
        """The canonical conversation id of two users (created on first use)."""
        user_a = validation.entity_id(user_a, "user id")
        user_b = validation.entity_id(user_b, "user id")
        if user_a == user_b:
            raise InvalidInput("a direct conversation needs two different users")
        conversation_id = direct_conversation_id(user_a, user_b)
        with self._request("open_conversation") as trace:
            trace.outcome = "write"
            if trace.db(self.ctx.repo.conversation, conversation_id) is None:
                if len(trace.db(self.ctx.repo.existing_users, [user_a, user_b])) < 2:
                    raise NotFound(f"unknown user among {user_a!r}, {user_b!r}")
                trace.db(self.ctx.repo.ensure_direct_conversation, user_a, user_b, self.now())
                # a read before this may have cached "no such conversation"
                self._invalidate(trace, self.ctx.keys.recent_messages(conversation_id))
        return conversation_id

    def recent(self, conversation_id: str, limit: int = RECENT_LIMIT) -> list[Message]:
        """Up to `limit` (at most 100) messages, newest first; NotFound for an unknown conversation."""
        conversation_id = validation.conversation_id(conversation_id)
        limit = validation.positive_int(limit, "limit")
        if limit > RECENT_LIMIT:
            raise InvalidInput(f"limit must be at most {RECENT_LIMIT}")
        keys = self.ctx.keys.recent_messages(conversation_id)
        with self._request("recent") as trace:
            return self._answer(trace, keys, self._recent, trace, keys, conversation_id)[:limit]

    def _recent(self, trace, keys, conversation_id: str) -> list[Message]:
        """The whole cached list (up to RECENT_LIMIT), so a stale copy can answer any limit."""
        raw = self._read(trace, keys, "lrange", 0, -1)
        cached = self._decode(keys, raw, conversation_id)
        if cached is not None:
            return cached
        generation = self._miss(trace, keys)
        rows = trace.db(self.ctx.repo.conversation_history, conversation_id, RECENT_LIMIT)
        if rows is None:
            self._fill(trace, keys, generation, "list", [], missing=True)
            raise NotFound(f"no conversation {conversation_id!r}")
        self._fill(trace, keys, generation, "list", [encode_message(row) for row in rows])
        return [Message(**row) for row in rows]

    def _decode(self, keys, raw: list[str], conversation_id: str) -> list[Message] | None:
        meta = self._fresh_meta(keys, raw[-1] if raw else None)
        if meta is None:
            return None
        if meta.missing:
            raise NotFound(f"no conversation {conversation_id!r}")
        try:
            return [decoded_record(Message, decode_message(item)) for item in raw[:-1]]
        except CorruptEntry as exc:
            self._corrupt(keys, str(exc))
            return None

    def send(self, conversation_id: str, sender_id: str, body: str) -> Message:
        """Store a message (the database first), then put it into the cached list if there is one."""
        conversation_id = validation.conversation_id(conversation_id)
        sender_id = validation.entity_id(sender_id, "sender id")
        body = validation.message_body(body)
        keys = self.ctx.keys.recent_messages(conversation_id)
        with self._request("send") as trace:
            trace.outcome = "write"
            conversation = trace.db(self.ctx.repo.conversation, conversation_id)
            if conversation is None:
                raise NotFound(f"no conversation {conversation_id!r}")
            if not trace.db(self.ctx.repo.is_participant, conversation, sender_id):
                raise InvalidInput(f"{sender_id!r} is not a participant of {conversation_id!r}")
            row = trace.db(self.ctx.repo.insert_message, conversation_id, sender_id, body, self.now())
            self._forget(keys)
            args = [encode_message(row), row["id"], RECENT_LIMIT, self.now(), self.ttl_ms, new_token()]
            try:
                trace.cache(self.ctx.scripts.push_message, keys=[keys.data, keys.generation], args=args)
            except CacheUnavailable:
                self._remember(trace, keys)  # stored; the list is dropped once Redis answers again
            except redis.RedisError as exc:
                # The message is stored; failing now would invite a retry that stores it twice.
                # A cached list without it must not outlive this, so drop the list if we can.
                self._drop_after_failed_push(trace, keys, exc)
            return Message(**row)

    def _drop_after_failed_push(self, trace, keys, exc: Exception) -> None:
        try:
            dropped = self._invalidate(trace, keys)
        except redis.RedisError as again:
            log.error("message stored, but cache %s could not be updated (%s) nor dropped (%s); "
                      "it may miss the message until it expires", keys.data, exc, again)
        else:
            done = "dropped it" if dropped else "it will be dropped when Redis answers again"
            log.warning("message stored, but cache %s could not be updated (%s); %s", keys.data, exc, done)


def message_dict(message: Message) -> dict:
    return asdict(message)
