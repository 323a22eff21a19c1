"""The key schema: the one place that decides what every Redis key is called.

Each entity's keys share a hash tag ({...}) so a script touching an entry and its
generation counter stays in one Redis Cluster slot.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import re
from dataclasses import dataclass
from typing import NamedTuple

from .errors import InvalidInput

TOKEN_PREFIX = "~g"  # generation tokens: "~g" and 16 hex digits (datatypes/generation.py)
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


class EntryKeys(NamedTuple):
    """An entry's data key, the generation that guards its fills, and what else caches the same row.

    `siblings` are other data keys holding a copy of the same database row (a user's profile hash and
    the pattern lessons' status record): every write drops them together, under the one generation.
    `version_counter` is write-behind's per-user counter: while it is ahead of the row a fill reads,
    a newer write is still queued, and the fill is refused.
    """

    data: str
    generation: str
    siblings: tuple[str, ...] = ()
    version_counter: str | None = None


@functools.lru_cache(maxsize=16_384)
def _profile_keys(namespace: str, user_id: str) -> EntryKeys:
    """Built once per user: every profile read names these four keys (the hit path's largest cost)."""
    schema = KeySchema(namespace)
    entry = schema._entry("user", user_id, "profile")
    return entry._replace(siblings=(schema._user_key(user_id, "status"),),
                          version_counter=schema.status_version(user_id))


def token_digest(token: str) -> str:
    """SHA-256 of a session token: what the key space and the database store instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeySchema:
    """Builds every key from already-validated ids."""

    namespace: str = "wc"

    def __post_init__(self) -> None:
        if not isinstance(self.namespace, str) or not NAMESPACE_PATTERN.fullmatch(self.namespace):
            raise InvalidInput("namespace must be 1-32 characters from A-Z a-z 0-9 _ -")

    def _entry(self, kind: str, entity: str, suffix: str) -> EntryKeys:
        base = f"{self.namespace}:{kind}:{{{entity}}}"
        return EntryKeys(f"{base}:{suffix}", f"{base}:gen")

    def session(self, token_hash: str) -> EntryKeys:
        return self._entry("session", token_hash, "data")

    def profile(self, user_id: str) -> EntryKeys:
        """A user's profile hash; it shares its generation with the status record (one row, one invalidation)."""
        return _profile_keys(self.namespace, user_id)

    def recent_messages(self, conversation_id: str) -> EntryKeys:
        return self._entry("chat", conversation_id, "recent")

    def group_members(self, group_id: str) -> EntryKeys:
        return self._entry("group", group_id, "members")

    def status(self, user_id: str) -> EntryKeys:
        """A user's status message as the caching-pattern lessons cache it: the same row as the profile,
        so the same generation, and each write drops the other copy."""
        profile = self._entry("user", user_id, "profile")
        return EntryKeys(self._user_key(user_id, "status"), profile.generation, (profile.data,),
                         self.status_version(user_id))

    def status_version(self, user_id: str) -> str:
        """Write-behind's per-user version counter (no TTL: versions must never go backwards)."""
        return self._user_key(user_id, "version")

    def _user_key(self, user_id: str, suffix: str) -> str:
        return f"{self.namespace}:user:{{{user_id}}}:{suffix}"

    def write_behind_stream(self) -> str:
        return f"{self.namespace}:{{writes}}:status"

    def is_queue(self, key: str) -> bool:
        """Whether a key holds write-behind state (the stream, a version counter) rather than cache."""
        return key.startswith(f"{self.namespace}:{{writes}}:") or (
            key.startswith(f"{self.namespace}:user:{{") and key.endswith("}:version"))

    def presence(self) -> str:
        return f"{self.namespace}:{{presence}}:last_seen"

    def presence_cleanup(self, interval_number: int) -> str:
        return f"{self.namespace}:{{presence}}:cleanup:{interval_number}"

    def invalidation_channel(self) -> str:
        """The pub/sub channel on which app servers announce invalidations of their local copies."""
        return f"{self.namespace}:invalidate"

    def hot(self, name: str) -> str:
        """One hot value of the stampede lessons (a JSON entry carrying its own expiry)."""
        return f"{self.namespace}:hot:{{{name}}}:value"

    def lock(self, name: str) -> str:
        """The recompute lock of a hot value (same hash tag, so the same Cluster slot)."""
        return f"{self.namespace}:hot:{{{name}}}:lock"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this namespace."""
        return f"{self.namespace}:*"


def new_token() -> str:
    """A fresh generation token: unique across processes, so two app servers never share one."""
    return TOKEN_PREFIX + secrets.token_hex(8)
