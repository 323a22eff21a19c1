"""User profiles: a hash per user (24 h), read-through, deleted on every write."""

from __future__ import annotations

from dataclasses import dataclass

from .. import validation
from ..codec import META_FIELD, CorruptEntry, decode_fields, hash_items
from ..db.repository import PROFILE_FIELDS
from ..errors import InvalidInput, NotFound
from .base import CachedType

FIELD_TYPES = {"username": str, "phone": str, "profile_pic": str, "status_message": str}
FIELD_LIMITS = {"username": 64, "phone": 32, "profile_pic": 256, "status_message": 256}


@dataclass(frozen=True)
class Profile:
    user_id: str
    username: str
    phone: str
    profile_pic: str
    status_message: str


class Profiles(CachedType):
    """HGETALL user:{id}:profile; on a miss, one SELECT and one atomic fill."""

    data_type = "profiles"

    def get(self, user_id: str) -> Profile:
        """The user's profile; NotFound for an unknown id (that answer is cached too)."""
        user_id = validation.entity_id(user_id, "user id")
        keys = self.ctx.keys.profile(user_id)
        with self._request("get") as trace:
            raw, generation = self._read(trace, keys, "hgetall")
            meta = self._fresh_meta(keys, raw.get(META_FIELD), present=bool(raw))
            if meta is not None:
                profile = self._decode(keys, user_id, raw, meta.missing)
                if profile is not None:
                    return profile
            trace.miss()
            row = trace.db(self.ctx.repo.user, user_id)
            if row is None:
                self._fill(trace, keys, generation, "hash", [], missing=True)
                raise NotFound(f"no user with id {user_id!r}")
            fields = {name: row[name] for name in PROFILE_FIELDS}
            self._fill(trace, keys, generation, "hash", hash_items(fields))
            return Profile(user_id, **fields)

    def _decode(self, keys, user_id: str, raw: dict, missing: bool) -> Profile | None:
        if missing:
            raise NotFound(f"no user with id {user_id!r}")
        try:
            return Profile(user_id, **decode_fields(raw, FIELD_TYPES))
        except CorruptEntry as exc:
            self._corrupt(keys, str(exc))
            return None

    def update(self, user_id: str, **changes: str) -> None:
        """Change profile fields in the database, then drop the cached copy."""
        user_id = validation.entity_id(user_id, "user id")
        _check_changes(changes)
        with self._request("update") as trace:
            trace.outcome = "write"
            if not trace.db(self.ctx.repo.update_profile, user_id, changes, self.now()):
                raise NotFound(f"no user with id {user_id!r}")
            self._invalidate(trace, self.ctx.keys.profile(user_id))

    def create(self, user_id: str, username: str, phone: str, **profile: str) -> None:
        """Add a user; drops any cached 'no such user' answer."""
        user_id = validation.entity_id(user_id, "user id")
        _check_changes({"username": username, "phone": phone, **profile})
        with self._request("create") as trace:
            trace.outcome = "write"
            if trace.db(self.ctx.repo.user, user_id) is not None:
                raise InvalidInput(f"user {user_id!r} already exists")
            trace.db(self.ctx.repo.insert_user, user_id, username, phone, self.now(), **profile)
            self._invalidate(trace, self.ctx.keys.profile(user_id))


def _check_changes(changes: dict) -> None:
    unknown = set(changes) - set(FIELD_TYPES)
    if unknown:
        raise InvalidInput(f"unknown profile field(s) {sorted(unknown)}; allowed: {sorted(FIELD_TYPES)}")
    if not changes:
        raise InvalidInput("nothing to update")
    for name, value in changes.items():
        validation.short_text(value, name, FIELD_LIMITS[name])
