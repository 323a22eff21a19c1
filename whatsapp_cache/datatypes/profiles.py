"""User profiles: a hash per user (24 h), read-through, deleted on every write."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.exceptions import NoScriptError

from .. import validation
from ..codec import META_FIELD, CorruptEntry, decode_fields, hash_items
from ..db.repository import PROFILE_FIELDS
from ..errors import InvalidInput, NotFound
from ..keys import EntryKeys
from ..metrics import Trace
from ..resilience import CacheUnavailable, execute_keeping_errors
from . import generation as generations
from .base import CachedType, decoded_record
from ..backends import queue_script
from .scripts import FILL

MAX_BATCH = 1000  # ids per get_many: one IN (...) query and pipelines of bounded size
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
    serve_stale = True  # a name or status minutes old, rather than an error (resilience/last_known_good.py)

    def get(self, user_id: str) -> Profile:
        """The user's profile; NotFound for an unknown id (that answer is cached too)."""
        user_id = validation.entity_id(user_id, "user id")
        keys = self.ctx.keys.profile(user_id)
        with self._request("get") as trace:
            return self._answer(trace, keys, self._get, trace, keys, user_id)

    def _get(self, trace: Trace, keys: EntryKeys, user_id: str) -> Profile:
        raw = self._read(trace, keys, "hgetall")
        meta = self._fresh_meta(keys, raw.get(META_FIELD), present=bool(raw))
        if meta is not None:
            profile = self._decode(keys, user_id, raw, meta.missing)
            if profile is not None:
                return profile
        generation = self._miss(trace, keys)
        row = trace.db(self.ctx.repo.user, user_id)
        if row is None:
            self._fill(trace, keys, generation, "hash", [], missing=True)
            raise NotFound(f"no user with id {user_id!r}")
        fields = {name: row[name] for name in PROFILE_FIELDS}
        self._fill(trace, keys, generation, "hash", hash_items(fields), version=row["version"])
        return Profile(user_id, **fields)

    def get_many(self, user_ids: list[str]) -> dict[str, Profile]:
        """Profiles of many users (at most MAX_BATCH ids) by id; unknown ids are left out.

        Round trips: one pipeline of HGETALLs; if any missed, one pipeline claiming their
        generations, then one pipeline of fill scripts (EVALSHA; each refused if a write
        set a new generation since). One SELECT for all misses. Unknown ids are cached as
        'no such user', like get(). Metrics: one request per distinct id (operation
        "get_many"), each a hit, miss or fallback as get() would count it; the first id's
        request carries the batch's round trips, query and latency, so totals stay exact.
        """
        user_ids = validation.entity_ids(user_ids, "user ids", MAX_BATCH)
        if not user_ids:
            return {}
        keys = {user_id: self.ctx.keys.profile(user_id) for user_id in user_ids}
        with self._request("get_many") as trace:
            cached = self._read_many(trace, keys)
            misses = [user_id for user_id in user_ids if user_id not in cached]
            outcome = "fallback" if trace.outcome == "fallback" else "miss"
            found = {user_id: profile for user_id, profile in cached.items() if profile is not None}
            if misses:
                found.update(self._load_many(trace, {user_id: keys[user_id] for user_id in misses}))
            trace.outcome = "hit" if user_ids[0] in cached else outcome
        for user_id in user_ids[1:]:
            with self._request("get_many") as each:
                each.outcome = "hit" if user_id in cached else outcome
        return found

    def _read_many(self, trace: Trace, keys: dict[str, EntryKeys]) -> dict[str, Profile | None]:
        """One pipelined round trip: the fresh entries by id (None: cached 'no such user')."""
        pipe = self.ctx.redis.pipeline(transaction=False)
        for entry in keys.values():
            pipe.hgetall(entry.data)
        try:
            replies = trace.cache(execute_keeping_errors, pipe)
        except CacheUnavailable:
            trace.outcome = "fallback"
            return {}
        cached = {}
        for (user_id, entry), raw in zip(keys.items(), replies):
            if isinstance(raw, redis.ResponseError):
                self._corrupt(entry, str(raw))  # a key of another type: the fill replaces it
                continue
            meta = self._fresh_meta(entry, raw.get(META_FIELD), present=bool(raw))
            if meta is not None and meta.missing:
                cached[user_id] = None
            elif meta is not None and (profile := self._decode(entry, user_id, raw, False)) is not None:
                cached[user_id] = profile
        return cached

    def _load_many(self, trace: Trace, keys: dict[str, EntryKeys]) -> dict[str, Profile]:
        """The misses: their generations (one round trip), one query, their fills (one round trip)."""
        generations = self._generations(trace, list(keys.values()))
        rows = trace.db(self.ctx.repo.users, list(keys))
        fields = {user_id: {name: row[name] for name in PROFILE_FIELDS} for user_id, row in rows.items()}
        if generations is not None:
            fills = [self._fill_args(entry, generation, fields.get(user_id), rows.get(user_id))
                     for (user_id, entry), generation in zip(keys.items(), generations) if generation is not None]
            self._fill_many(trace, fills)
        return {user_id: Profile(user_id, **values) for user_id, values in fields.items()}

    def _generations(self, trace: Trace, entries: list[EntryKeys]) -> list[str | None] | None:
        """Each entry's generation token claimed in one pipelined round trip; None if Redis is unavailable.

        An entry whose generation key holds a foreign value gets None: it is served, not filled.
        """
        if trace.outcome == "fallback":
            return None
        pipe = self.ctx.redis.pipeline(transaction=False)
        for entry in entries:
            generations.queue_claim(pipe, entry.generation, self.ttl_ms)
        try:
            replies = trace.cache(execute_keeping_errors, pipe)
        except CacheUnavailable:
            return None
        tokens = [generations.claimed(*pair) for pair in zip(replies[::2], replies[1::2])]
        for entry, token in zip(entries, tokens):
            if token is None:
                self._corrupt(entry, "generation key holds a foreign value")
                self._drop_foreign_generation(trace, entry)
        return tokens

    def _fill_args(self, keys: EntryKeys, generation: str, fields: dict | None,
                   row: dict | None) -> tuple[list[str], list]:
        """The FILL script's keys and arguments for one entry, as base._fill builds them."""
        if fields is None:
            return self._fill_call(keys, generation, "hash", [], missing=True)
        return self._fill_call(keys, generation, "hash", hash_items(fields), version=row["version"])

    def _fill_many(self, trace: Trace, fills: list[tuple[list[str], list]]) -> None:
        """Every fill in one pipelined round trip of EVALSHA.

        EVALSHA, not the Script objects: a pipeline of those first asks SCRIPT EXISTS, one
        more round trip each time. A server that lost the script (restart, SCRIPT FLUSH, a
        promoted replica) answers NOSCRIPT; then the script is loaded (on every master of a
        cluster) and those fills sent once more. On a cluster the pipeline costs one round
        trip per master its keys live on, sent to all before any reply is read.
        """
        script = self.ctx.scripts.fill
        for attempt in range(2):
            pipe = self.ctx.redis.pipeline(transaction=False)
            for keys, args in fills:
                queue_script(script, pipe, keys, args, by_sha=True)
            try:
                replies = trace.cache(execute_keeping_errors, pipe)
            except CacheUnavailable:
                return
            _raise_unexpected(replies)
            fills = [fill for fill, reply in zip(fills, replies) if isinstance(reply, NoScriptError)]
            if not fills or attempt:
                return
            try:
                trace.cache(self.ctx.redis.script_load, FILL)
            except CacheUnavailable:
                return

    def _decode(self, keys, user_id: str, raw: dict, missing: bool) -> Profile | None:
        if missing:
            raise NotFound(f"no user with id {user_id!r}")
        try:
            return decoded_record(Profile, decode_fields(raw, FIELD_TYPES, {"user_id": user_id}))
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
            if not trace.db(self.ctx.repo.insert_user, user_id, username, phone, self.now(), **profile):
                raise InvalidInput(f"user {user_id!r} already exists")
            self._invalidate(trace, self.ctx.keys.profile(user_id))


def _raise_unexpected(replies: list) -> None:
    """Raise the first error reply other than NOSCRIPT, as a single fill would."""
    error = next((r for r in replies if isinstance(r, Exception) and not isinstance(r, NoScriptError)), None)
    if error is not None:
        raise error


def _check_changes(changes: dict) -> None:
    unknown = set(changes) - set(FIELD_TYPES)
    if unknown:
        raise InvalidInput(f"unknown profile field(s) {sorted(unknown)}; allowed: {sorted(FIELD_TYPES)}")
    if not changes:
        raise InvalidInput("nothing to update")
    for name, value in changes.items():
        validation.short_text(value, name, FIELD_LIMITS[name])
