"""Tables of the source of truth, in SQLAlchemy Core, portable across SQLite and PostgreSQL."""

from sqlalchemy import (BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, MetaData, String, Table,
                        Text, UniqueConstraint)

metadata = MetaData()


def _bytewise(length: int) -> String:
    """A string column that PostgreSQL compares and sorts byte by byte (COLLATE "C"), whatever the
    database's collation: as Python and SQLite (BINARY) compare ids. Under a linguistic collation
    (ICU en-US) "alice" < "Bob" while Python says "Bob" < "alice", and the CHECK below refused
    the pair that repository.direct_pair() put in Python's order."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


Id = _bytewise(64)
ConversationId = _bytewise(140)
Millis = BigInteger
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
MessageId = BigInteger().with_variant(Integer, "sqlite")

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(64), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("profile_pic", String(256), nullable=False, default=""),
    Column("status_message", String(256), nullable=False, default=""),
    Column("last_seen_ms", Millis),
    Column("updated_ms", Millis, nullable=False),
    # Bumped by every profile write; write-behind applies an update only if its version is newer.
    Column("version", BigInteger, nullable=False, default=0),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("device", String(64), nullable=False),
    Column("created_ms", Millis, nullable=False),
    Column("expires_ms", Millis, nullable=False),
)

contacts = Table(
    "contacts", metadata,
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

groups = Table(
    "chat_groups", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("created_ms", Millis, nullable=False),
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", Id, ForeignKey("chat_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("joined_ms", Millis, nullable=False),
)

conversations = Table(
    "conversations", metadata,
    Column("id", ConversationId, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("user_lo", Id, ForeignKey("users.id")),
    Column("user_hi", Id, ForeignKey("users.id")),
    Column("group_id", Id, ForeignKey("chat_groups.id"), unique=True),
    Column("created_ms", Millis, nullable=False),
    UniqueConstraint("user_lo", "user_hi", name="one_direct_conversation_per_pair"),
    CheckConstraint(
        "(kind = 'direct' AND user_lo < user_hi AND group_id IS NULL)"
        " OR (kind = 'group' AND group_id IS NOT NULL AND user_lo IS NULL AND user_hi IS NULL)",
        name="conversation_kind",
    ),
)

messages = Table(
    "messages", metadata,
    Column("id", MessageId, primary_key=True, autoincrement=True),
    Column("conversation_id", ConversationId, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("sender_id", Id, ForeignKey("users.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_ms", Millis, nullable=False),
    Index("messages_newest_first", "conversation_id", "id"),
)

TABLES_IN_LOAD_ORDER = (users, sessions, contacts, groups, group_members, conversations, messages)
