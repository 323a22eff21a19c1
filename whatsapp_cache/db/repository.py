"""Parameterized queries against the source of truth; the only module that writes SQL."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Mapping

from sqlalchemy import Engine, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import schema as t

PROFILE_FIELDS = ("username", "phone", "profile_pic", "status_message")
BATCH = 1000  # ids per IN (...), rows per INSERT: far below PostgreSQL's 65,535 parameters a statement


def _prepared():
    """The hot paths' statements, built once with bind parameters: SQLAlchemy then finds each one's
    compiled form by a cache key it computed once, instead of building and keying a statement per call."""
    joined_messages = t.conversations.outerjoin(t.messages, t.messages.c.conversation_id == t.conversations.c.id)
    joined_members = t.groups.outerjoin(t.group_members, t.group_members.c.group_id == t.groups.c.id)
    return {
        "user": select(t.users).where(t.users.c.id == bindparam("id")),
        "session": select(t.sessions).where(t.sessions.c.token_hash == bindparam("id")),
        "conversation": select(t.conversations).where(t.conversations.c.id == bindparam("id")),
        "member": select(t.group_members.c.user_id).where(t.group_members.c.group_id == bindparam("group"),
                                                          t.group_members.c.user_id == bindparam("user")),
        "history": (select(t.conversations.c.id.label("known"), *t.messages.c).select_from(joined_messages)
                    .where(t.conversations.c.id == bindparam("id")).order_by(t.messages.c.id.desc())
                    .limit(bindparam("limit"))),
        "roster": (select(t.groups.c.id.label("known"), t.group_members.c.user_id).select_from(joined_members)
                   .where(t.groups.c.id == bindparam("id")).order_by(t.group_members.c.user_id)),
        "insert_message": insert(t.messages).returning(t.messages.c.id),
        "last_seen": (select(t.users.c.id, t.users.c.last_seen_ms)
                      .where(t.users.c.id.in_(bindparam("ids", expanding=True)))),
        "seen_forward": (update(t.users).where(t.users.c.id == bindparam("user"),
                                               or_(t.users.c.last_seen_ms.is_(None),
                                                   t.users.c.last_seen_ms < bindparam("at")))
                         .values(last_seen_ms=bindparam("at"))),
    }


PREPARED = _prepared()


def direct_pair(user_a: str, user_b: str) -> tuple[str, str]:
    """Two users as the conversations table stores them, user_lo < user_hi.

    Python compares by code point; the id columns compare byte by byte on every database
    (COLLATE "C" on PostgreSQL, see schema.py), which for ids is the same order.
    """
    return (user_a, user_b) if user_a < user_b else (user_b, user_a)


def direct_conversation_id(user_a: str, user_b: str) -> str:
    """The one canonical id of the conversation between two users, whoever writes first."""
    return "dm.{}.{}".format(*direct_pair(user_a, user_b))


def batches(values: Iterable, size: int = BATCH) -> Iterator[list]:
    """`values` in lists of at most `size`, so no statement outgrows the database's parameter limit."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def group_conversation_id(group_id: str) -> str:
    return f"grp.{group_id}"


def _as_dicts(names: tuple[str, ...], rows) -> list[dict]:
    """Rows as {column: value} dicts, as dict(row_mapping) makes them, fetched at once and zipped with the
    names: SQLAlchemy's mapping view looks each name up per value and its iterator fetches row by row."""
    return [dict(zip(names, row)) for row in rows]


class Repository:
    """Reads and writes rows; knows nothing about caching."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create_schema(self) -> None:
        t.metadata.create_all(self.engine)

    def drop_schema(self) -> None:
        t.metadata.drop_all(self.engine)

    def _one(self, statement, parameters: dict | None = None) -> dict | None:
        with self.engine.connect() as conn:
            result = conn.execute(statement, parameters)
            names, row = tuple(result.keys()), result.first()  # first() closes the result
        return _as_dicts(names, [row])[0] if row is not None else None

    def _all(self, statement, parameters: dict | None = None) -> list[dict]:
        with self.engine.connect() as conn:
            result = conn.execute(statement, parameters)
            return _as_dicts(tuple(result.keys()), result.all())

    def _write(self, statement, parameters: dict | None = None) -> int:
        with self.engine.begin() as conn:
            return conn.execute(statement, parameters).rowcount

    def _insert_new(self, inserts: list[tuple], exists: Callable[[], bool]) -> bool:
        """Run (statement, rows) inserts in one transaction; False if the row was there already.

        The unique key decides between concurrent writers, not a SELECT before: the loser's
        INSERT fails with IntegrityError, and finding the row then tells a lost race (False)
        from another constraint failing (raised).
        """
        try:
            with self.engine.begin() as conn:
                for statement, rows in inserts:
                    conn.execute(statement, rows)
        except IntegrityError:
            if exists():
                return False
            raise
        return True

    # users and profiles
    def user(self, user_id: str) -> dict | None:
        return self._one(PREPARED["user"], {"id": user_id})

    def users(self, user_ids: Iterable[str]) -> dict[str, dict]:
        """Rows of these users that exist, by id, in one query."""
        ids = list(user_ids)
        return {row["id"]: row for row in self._all(select(t.users).where(t.users.c.id.in_(ids)))} if ids else {}

    def existing_users(self, user_ids: Iterable[str]) -> set[str]:
        """Which of these ids are users, asked BATCH ids a query."""
        return {row["id"] for batch in batches(user_ids)
                for row in self._all(select(t.users.c.id).where(t.users.c.id.in_(batch)))}

    def insert_user(self, user_id: str, username: str, phone: str, now_ms: int, **profile) -> bool:
        """Add a user; False if the id is taken (also by a writer that won a race)."""
        row = dict(id=user_id, username=username, phone=phone, updated_ms=now_ms, **profile)
        return self._insert_new([(insert(t.users).values(row), None)], lambda: self.user(user_id) is not None)

    def update_profile(self, user_id: str, changes: Mapping[str, str], now_ms: int) -> bool:
        statement = (update(t.users).where(t.users.c.id == user_id)
                     .values(**changes, updated_ms=now_ms, version=t.users.c.version + 1))
        return self._write(statement) == 1

    def status(self, user_id: str) -> tuple[str, int] | None:
        """A user's status message and its version."""
        row = self._one(select(t.users.c.status_message, t.users.c.version).where(t.users.c.id == user_id))
        return (row["status_message"], row["version"]) if row else None

    def write_status(self, user_id: str, text: str, now_ms: int) -> int | None:
        """Set the status message; return the new version (None for an unknown user)."""
        statement = (update(t.users).where(t.users.c.id == user_id)
                     .values(status_message=text, updated_ms=now_ms, version=t.users.c.version + 1)
                     .returning(t.users.c.version))
        with self.engine.begin() as conn:
            return conn.execute(statement).scalar_one_or_none()

    def write_status_at_least(self, user_id: str, text: str, now_ms: int, floor: int) -> int | None:
        """Set the status message with a version above both the row's and `floor`; return it."""
        following = t.users.c.version + 1
        statement = (update(t.users).where(t.users.c.id == user_id)
                     .values(status_message=text, updated_ms=now_ms,
                             version=case((following > floor, following), else_=floor))
                     .returning(t.users.c.version))
        with self.engine.begin() as conn:
            return conn.execute(statement).scalar_one_or_none()

    def apply_status_updates(self, updates: Mapping[str, tuple[str, int]], now_ms: int) -> int:
        """Write-behind's batch: each (text, version) lands only if newer than the row; return rows changed."""
        changed = 0
        with self.engine.begin() as conn:
            for user_id, (text, version) in sorted(updates.items()):
                statement = (update(t.users).where(t.users.c.id == user_id, t.users.c.version < version)
                             .values(status_message=text, updated_ms=now_ms, version=version))
                changed += conn.execute(statement).rowcount
        return changed

    def touch_last_seen(self, user_id: str, at_ms: int) -> bool:
        """Move a user's last-seen forward (never back); False if the user is unknown."""
        if self._write(PREPARED["seen_forward"], {"user": user_id, "at": at_ms}):
            return True
        return self.user(user_id) is not None

    def record_last_seen(self, seen: Mapping[str, int]) -> int:
        """Move many users' last-seen forward (never back) in one transaction; return rows changed."""
        if not seen:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(PREPARED["seen_forward"],
                                [{"user": user, "at": int(ms)} for user, ms in seen.items()]).rowcount

    def last_seen(self, user_ids: Iterable[str]) -> dict[str, int | None]:
        ids = list(user_ids)
        return {row["id"]: row["last_seen_ms"] for row in self._all(PREPARED["last_seen"], {"ids": ids})} if ids else {}

    def seen_since(self, cutoff_ms: int) -> dict[str, int]:
        """Every user whose last-seen time is after the cutoff (who may be online)."""
        statement = select(t.users.c.id, t.users.c.last_seen_ms).where(t.users.c.last_seen_ms > cutoff_ms)
        return {row["id"]: row["last_seen_ms"] for row in self._all(statement)}

    def contacts(self, owner_id: str) -> list[str]:
        statement = select(t.contacts.c.contact_id).where(t.contacts.c.owner_id == owner_id)
        return sorted(row["contact_id"] for row in self._all(statement.order_by(t.contacts.c.contact_id)))

    # sessions
    def insert_session(self, token_hash: str, user_id: str, device: str, created_ms: int, expires_ms: int) -> None:
        self._write(insert(t.sessions).values(token_hash=token_hash, user_id=user_id, device=device,
                                              created_ms=created_ms, expires_ms=expires_ms))

    def session(self, token_hash: str) -> dict | None:
        return self._one(PREPARED["session"], {"id": token_hash})

    def delete_session(self, token_hash: str) -> bool:
        return self._write(delete(t.sessions).where(t.sessions.c.token_hash == token_hash)) == 1

    # conversations and messages
    def conversation(self, conversation_id: str) -> dict | None:
        return self._one(PREPARED["conversation"], {"id": conversation_id})

    def ensure_direct_conversation(self, user_a: str, user_b: str, now_ms: int) -> str:
        """Create the pair's conversation if it does not exist yet; return its id."""
        conversation_id = direct_conversation_id(user_a, user_b)
        low, high = direct_pair(user_a, user_b)
        if self.conversation(conversation_id) is None:
            row = dict(id=conversation_id, kind="direct", user_lo=low, user_hi=high, created_ms=now_ms)
            self._insert_new([(insert(t.conversations).values(row), None)],
                             lambda: self.conversation(conversation_id) is not None)
        return conversation_id

    def is_participant(self, conversation: Mapping, user_id: str) -> bool:
        if conversation["kind"] == "direct":
            return user_id in (conversation["user_lo"], conversation["user_hi"])
        return self._one(PREPARED["member"], {"group": conversation["group_id"], "user": user_id}) is not None

    def recent_messages(self, conversation_id: str, limit: int) -> list[dict]:
        """The newest `limit` messages, newest first (by id, the order of insertion)."""
        statement = (select(t.messages).where(t.messages.c.conversation_id == conversation_id)
                     .order_by(t.messages.c.id.desc()).limit(limit))
        return self._all(statement)

    def conversation_history(self, conversation_id: str, limit: int) -> list[dict] | None:
        """Like recent_messages, but None for an unknown conversation: one query either way."""
        rows = self._all(PREPARED["history"], {"id": conversation_id, "limit": limit})
        if not rows:
            return None
        names = t.messages.c.keys()
        return [{name: row[name] for name in names} for row in rows if row["id"] is not None]

    def insert_message(self, conversation_id: str, sender_id: str, body: str, sent_ms: int) -> dict:
        values = dict(conversation_id=conversation_id, sender_id=sender_id, body=body, sent_ms=sent_ms)
        with self.engine.begin() as conn:
            message_id = conn.execute(PREPARED["insert_message"], values).scalar_one()
        return {"id": message_id, **values}

    def message_bodies(self, message_ids: Iterable[int], batch: int = 500) -> dict[int, str]:
        """Body of each of these messages that is stored, by id (for audits: was a write kept?)."""
        bodies = {}
        for ids in batches(sorted(set(message_ids)), batch):
            statement = select(t.messages.c.id, t.messages.c.body).where(t.messages.c.id.in_(ids))
            bodies.update({row["id"]: row["body"] for row in self._all(statement)})
        return bodies

    def message_count(self, conversation_id: str) -> int:
        statement = select(func.count()).select_from(t.messages).where(t.messages.c.conversation_id == conversation_id)
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar_one()

    # groups
    def group(self, group_id: str) -> dict | None:
        return self._one(select(t.groups).where(t.groups.c.id == group_id))

    def insert_group(self, group_id: str, name: str, now_ms: int, member_ids: Iterable[str] = ()) -> bool:
        """Add a group, its conversation and its members, all or nothing; False if the id is taken."""
        conversation = dict(id=group_conversation_id(group_id), kind="group", group_id=group_id, created_ms=now_ms)
        members = [dict(group_id=group_id, user_id=user_id, joined_ms=now_ms) for user_id in member_ids]
        inserts = [(insert(t.groups).values(id=group_id, name=name, created_ms=now_ms), None),
                   (insert(t.conversations).values(conversation), None),
                   *((insert(t.group_members), batch) for batch in batches(members))]
        return self._insert_new(inserts, lambda: self.group(group_id) is not None)

    def group_members(self, group_id: str) -> list[str]:
        statement = (select(t.group_members.c.user_id).where(t.group_members.c.group_id == group_id)
                     .order_by(t.group_members.c.user_id))
        return [row["user_id"] for row in self._all(statement)]

    def group_roster(self, group_id: str) -> list[str] | None:
        """Like group_members, but None for an unknown group: one query either way."""
        rows = self._all(PREPARED["roster"], {"id": group_id})
        if not rows:
            return None
        return [row["user_id"] for row in rows if row["user_id"] is not None]

    def add_group_member(self, group_id: str, user_id: str, now_ms: int) -> bool:
        """Add a member; False if they already were one."""
        try:
            self._write(insert(t.group_members).values(group_id=group_id, user_id=user_id, joined_ms=now_ms))
        except IntegrityError:
            return False
        return True

    def remove_group_member(self, group_id: str, user_id: str) -> bool:
        member = and_(t.group_members.c.group_id == group_id, t.group_members.c.user_id == user_id)
        return self._write(delete(t.group_members).where(member)) == 1

    # bulk
    def bulk_insert(self, rows_by_table: Mapping[str, list[dict]]) -> dict[str, int]:
        """Insert a data set in one transaction, parents before children; return row counts."""
        counts = {}
        with self.engine.begin() as conn:
            for table in t.TABLES_IN_LOAD_ORDER:
                rows = rows_by_table.get(table.name, [])
                if rows:
                    conn.execute(insert(table), rows)
                counts[table.name] = len(rows)
            if conn.dialect.name == "postgresql" and rows_by_table.get("messages"):
                # rows came with their ids, so move the id sequence past them
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                                     "(SELECT max(id) FROM messages))")
        return counts

    def row_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for table in t.TABLES_IN_LOAD_ORDER}
