"""Sessions: a hash keyed by the SHA-256 of the token (7 d), never by the token itself."""

from __future__ import annotations

from dataclasses import dataclass

from .. import validation
from ..codec import META_FIELD, CorruptEntry, decode_fields, hash_items
from ..errors import NotFound
from ..keys import token_digest
from .base import CachedType, decoded_record
from ..keys import new_token
from .generation import writer_claim

FIELD_TYPES = {"user_id": str, "device": str, "created_ms": int, "expires_ms": int}
SESSION_LIFETIME_MS = 30 * 24 * 3600 * 1000


class SecretToken:
    """A bearer token that never prints itself; call .reveal() to send it to a client."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = validation.session_token(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretToken('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Session:
    """What authentication learns about a request; holds no token."""

    user_id: str
    device: str
    created_ms: int
    expires_ms: int


class Sessions(CachedType):
    """HGETALL session:{sha256(token)}:data; misses read the sessions table by digest."""

    data_type = "sessions"

    def login(self, user_id: str, device: str = "phone") -> SecretToken:
        """Create a session in the database and write it through to the cache."""
        user_id = validation.entity_id(user_id, "user id")
        device = validation.short_text(device, "device", 64)
        token = SecretToken(self.ctx.token_factory())
        digest = token_digest(token.reveal())
        now = self.now()
        session = Session(user_id, device, now, now + SESSION_LIFETIME_MS)
        with self._request("login") as trace:
            trace.outcome = "write"
            if trace.db(self.ctx.repo.user, user_id) is None:
                raise NotFound(f"no user with id {user_id!r}")
            trace.db(self.ctx.repo.insert_session, digest, user_id, device, session.created_ms, session.expires_ms)
            self._fill(trace, self.ctx.keys.session(digest), writer_claim(new_token()), "hash",
                       hash_items(vars(session)), ttl_ms=self._cache_ttl(session))
        return token

    def authenticate(self, token: SecretToken | str) -> Session | None:
        """The session a token opens, or None if it is unknown, revoked or expired."""
        digest = token_digest(_raw(token))
        keys = self.ctx.keys.session(digest)
        with self._request("authenticate") as trace:
            raw = self._read(trace, keys, "hgetall")
            meta = self._fresh_meta(keys, raw.get(META_FIELD), present=bool(raw))
            if meta is not None and meta.missing:
                return None
            if meta is not None and (session := self._decode(keys, raw)) is not None:
                return session if session.expires_ms > self.now() else None
            generation = self._miss(trace, keys)
            row = trace.db(self.ctx.repo.session, digest)
            if row is None or row["expires_ms"] <= self.now():
                self._fill(trace, keys, generation, "hash", [], missing=True)
                return None
            session = Session(row["user_id"], row["device"], row["created_ms"], row["expires_ms"])
            self._fill(trace, keys, generation, "hash", hash_items(vars(session)),
                       ttl_ms=self._cache_ttl(session))
            return session

    def logout(self, token: SecretToken | str) -> bool:
        """Revoke a session in the database, then drop it from the cache; False if it did not exist."""
        digest = token_digest(_raw(token))
        with self._request("logout") as trace:
            trace.outcome = "write"
            existed = trace.db(self.ctx.repo.delete_session, digest)
            self._invalidate(trace, self.ctx.keys.session(digest))
            return existed

    def _cache_ttl(self, session: Session) -> int:
        return max(1, min(self.ttl_ms, session.expires_ms - self.now()))

    def _decode(self, keys, raw: dict) -> Session | None:
        try:
            return decoded_record(Session, decode_fields(raw, FIELD_TYPES))
        except (CorruptEntry, TypeError) as exc:
            self._corrupt(keys, str(exc))
            return None


def _raw(token: SecretToken | str) -> str:
    return token.reveal() if isinstance(token, SecretToken) else validation.session_token(token)
