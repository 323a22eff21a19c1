"""The seed's example code, ported line by line to Python, bugs included.

It exists to be shown failing next to the library (tests/test_seed_bugs.py and the lessons); the
library never uses it. Each method names the seed function it ports.
"""

from __future__ import annotations

import json

import redis

from ..db import Repository
from ..db.repository import direct_conversation_id
from ..keys import token_digest


class NaiveSeedCache:
    """The seed's cache code on our schema; counts its database queries."""

    def __init__(self, client: redis.Redis, repo: Repository, now_ms):
        self.redis = client
        self.repo = repo
        self.now_ms = now_ms
        self.db_queries = 0

    def _db(self, call, *args):
        self.db_queries += 1
        return call(*args)

    def is_authenticated(self, token: str):
        """isAuthenticated: keys the session by the raw bearer token (bug 8)."""
        cached = self.redis.get(f"session:{token}")
        if cached:
            return json.loads(cached)
        session = self._db(self.repo.session, token_digest(token))  # our table stores digests; the seed's stored tokens
        if session:
            self.redis.setex(f"session:{token}", 604800, json.dumps(session))
        return session

    def get_recent_messages(self, user1: str, user2: str) -> list[dict]:
        """getRecentMessages: direction-dependent key (bug 2), oldest-first fill (bug 3)."""
        chat_key = f"chat:{user1}:{user2}"
        cached = self.redis.lrange(chat_key, 0, 99)
        if cached:
            return [json.loads(m) for m in cached]
        messages = self._db(self.repo.recent_messages, direct_conversation_id(user1, user2), 100)
        if messages:  # an empty chat is never cached (bug 11)
            pipe = self.redis.pipeline()
            for message in messages:  # rows come newest first; LPUSH reverses them
                pipe.lpush(chat_key, json.dumps(message))
            pipe.expire(chat_key, 3600)
            pipe.execute()
        return messages

    def send_message(self, sender: str, receiver: str, text: str) -> dict:
        """sendMessage: LPUSH onto a list that may have expired (bug 1), three separate calls (bug 5)."""
        conversation_id = self._db(self.repo.ensure_direct_conversation, sender, receiver, self.now_ms())
        message = self._db(self.repo.insert_message, conversation_id, sender, text, self.now_ms())
        chat_key = f"chat:{sender}:{receiver}"
        self.redis.lpush(chat_key, json.dumps(message))
        self.redis.ltrim(chat_key, 0, 99)
        self.redis.expire(chat_key, 3600)
        return message

    def get_user_profile(self, user_id: str) -> dict | None:
        """getUserProfile: HSET then EXPIRE as two calls (bug 5)."""
        cache_key = f"user:{user_id}"
        cached = self.redis.hgetall(cache_key)
        if cached:
            return cached
        user = self._db(self.repo.user, user_id)
        if user:
            self.redis.hset(cache_key, mapping={k: str(v) for k, v in user.items()})
            self.redis.expire(cache_key, 86400)
        return user

    def get_group_members(self, group_id: str) -> list[str]:
        """getGroupMembers: an empty group is never cached (bug 11)."""
        cache_key = f"group:{group_id}:members"
        members = self.redis.smembers(cache_key)
        if members:
            return sorted(members)
        db_members = self._db(self.repo.group_members, group_id)
        if db_members:
            self.redis.sadd(cache_key, *db_members)
            self.redis.expire(cache_key, 21600)
        return db_members

    def add_member_to_group(self, group_id: str, user_id: str) -> None:
        """addMemberToGroup: SADD onto a set that may have expired (bug 1)."""
        self._db(self.repo.add_group_member, group_id, user_id, self.now_ms())
        self.redis.sadd(f"group:{group_id}:members", user_id)

    def user_online(self, user_id: str) -> None:
        """userOnline."""
        self.redis.zadd("online_users", {f"user_{user_id}": self.now_ms()})

    def cleanup(self) -> int:
        """The setInterval body that every app server runs every minute (bug 12)."""
        return self.redis.zremrangebyscore("online_users", "-inf", self.now_ms() - 5 * 60 * 1000)

    def update_user_status(self, user_id: str, status: str) -> dict:
        """updateUserStatus (write-behind): cache first, then a fire-and-forget publish (bug 9).

        Returns how many workers heard the update: 0 means the database will never learn it.
        """
        self.redis.hset(f"user:{user_id}", "status", status)
        receivers = self.redis.publish("user_updates", json.dumps({"userId": user_id, "status": status}))
        return {"success": True, "workers_that_heard_it": receivers}

    def seed_worker_apply(self, update: dict) -> None:
        """The seed's background worker for one queued message: a plain UPDATE, whatever arrived before."""
        self._db(self.repo.write_status, update["userId"], update["status"], self.now_ms())

    def cache_with_jittered_ttl(self, key: str, value: str, rng) -> None:
        """Q4's 'stagger TTLs': SETEX with `3600 + Math.random() * 300` seconds, a float (bug 16).

        Redis answers "ERR value is not an integer or out of range": the write fails.
        """
        self.redis.setex(key, 3600 + rng.random() * 300, value)

    def send_message_write_through(self, sender: str, receiver: str, text: str) -> dict:
        """Pattern 2's sendMessage: INSERT, LPUSH, LTRIM, and no EXPIRE at all (bug 17)."""
        conversation_id = self._db(self.repo.ensure_direct_conversation, sender, receiver, self.now_ms())
        message = self._db(self.repo.insert_message, conversation_id, sender, text, self.now_ms())
        chat_key = f"chat:{sender}:{receiver}"
        self.redis.lpush(chat_key, json.dumps(message))
        self.redis.ltrim(chat_key, 0, 99)
        return message

    def is_user_online_as_described(self, user_id: str) -> bool:
        """isUserOnline read the way the text describes the scores (seconds, bug 18).

        userOnline writes Date.now(), milliseconds; against "five minutes ago" in seconds every
        score is a thousand times larger, so everyone who was ever seen is online.
        """
        last_seen = self.redis.zscore("online_users", f"user_{user_id}")
        if not last_seen:
            return False
        five_minutes_ago_s = self.now_ms() // 1000 - 5 * 60
        return last_seen > five_minutes_ago_s
