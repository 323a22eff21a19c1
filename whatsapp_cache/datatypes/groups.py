"""Group members: a set per group (6 h); empty groups are cached too, partial sets never."""

from __future__ import annotations

from .. import validation
from ..codec import is_meta
from ..db.repository import group_conversation_id
from ..errors import InvalidInput, NotFound
from ..resilience import CacheUnavailable
from .base import CachedType
from ..keys import new_token


class GroupMembers(CachedType):
    """SMEMBERS group:{id}:members; the marker member tells a complete set from a partial one."""

    data_type = "groups"
    serve_stale = True  # a roster minutes old; sending checks membership in the database anyway

    def members(self, group_id: str) -> frozenset[str]:
        """Every member's user id; NotFound for an unknown group (that answer is cached too)."""
        group_id = validation.entity_id(group_id, "group id")
        keys = self.ctx.keys.group_members(group_id)
        with self._request("members") as trace:
            return self._answer(trace, keys, self._members, trace, keys, group_id)

    def _members(self, trace, keys, group_id: str) -> frozenset[str]:
        raw = self._read(trace, keys, "smembers")
        marker = next((member for member in raw if is_meta(member)), None)
        meta = self._fresh_meta(keys, marker, present=bool(raw))
        if meta is not None:
            if meta.missing:
                raise NotFound(f"no group {group_id!r}")
            return frozenset(raw) - {marker}
        generation = self._miss(trace, keys)
        members = trace.db(self.ctx.repo.group_roster, group_id)
        if members is None:
            self._fill(trace, keys, generation, "set", [], missing=True)
            raise NotFound(f"no group {group_id!r}")
        self._fill(trace, keys, generation, "set", members)
        return frozenset(members)

    def create(self, group_id: str, name: str, member_ids: list[str] = ()) -> None:
        """A new group with its conversation; drops any cached 'no such group' answer."""
        group_id = validation.entity_id(group_id, "group id")
        name = validation.short_text(name, "group name", 128)
        if isinstance(member_ids, (str, bytes)) or not hasattr(member_ids, "__iter__"):
            raise InvalidInput("member ids must be a list of strings")  # not one id's characters
        member_ids = sorted({validation.entity_id(m, "member id") for m in member_ids})
        with self._request("create") as trace:
            trace.outcome = "write"
            if trace.db(self.ctx.repo.group, group_id) is not None:
                raise InvalidInput(f"group {group_id!r} already exists")  # before asking about its members
            self._require_users(trace, member_ids)
            if not trace.db(self.ctx.repo.insert_group, group_id, name, self.now(), member_ids):
                raise InvalidInput(f"group {group_id!r} already exists")  # created since the check
            self._invalidate(trace, self.ctx.keys.group_members(group_id))
            # the group's conversation is new too: drop a cached "no such conversation"
            self._invalidate(trace, self.ctx.keys.recent_messages(group_conversation_id(group_id)))

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Add a member in the database, then to the cached set only if that set is complete.

        The set's generation is read before the database write: if another write to the group
        changes it before this one's script runs, the script drops the set instead (their
        changes may reach Redis in another order than the database's).
        """
        return self._change("add", group_id, user_id)

    def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a member in the database, then from the cached set only if that set is complete."""
        return self._change("remove", group_id, user_id)

    def _change(self, op: str, group_id: str, user_id: str) -> bool:
        group_id = validation.entity_id(group_id, "group id")
        user_id = validation.entity_id(user_id, "user id")
        keys = self.ctx.keys.group_members(group_id)
        with self._request(f"{op}_member") as trace:
            trace.outcome = "write"
            if trace.db(self.ctx.repo.group, group_id) is None:
                raise NotFound(f"no group {group_id!r}")
            self._require_users(trace, [user_id])
            generation = self._generation(trace, keys)
            repo = self.ctx.repo
            if op == "add":
                changed = trace.db(repo.add_group_member, group_id, user_id, self.now())
            else:
                changed = trace.db(repo.remove_group_member, group_id, user_id)
            self._forget(keys)
            if generation is None:  # no Redis (or a foreign generation) before the write: drop the set later
                self._remember(trace, keys)
                return changed
            args = [op, user_id, self.now(), self.ttl_ms, generation, new_token()]
            try:
                trace.cache(self.ctx.scripts.change_member, keys=[keys.data, keys.generation], args=args)
            except CacheUnavailable:
                self._remember(trace, keys)
            return changed

    def _require_users(self, trace, user_ids: list[str]) -> None:
        if user_ids:
            missing = set(user_ids) - trace.db(self.ctx.repo.existing_users, user_ids)
            if missing:
                raise NotFound(f"unknown user(s) {sorted(missing)[:5]}")
