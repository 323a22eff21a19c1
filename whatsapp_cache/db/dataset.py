"""A deterministic synthetic WhatsApp-like data set: generate, save as CSV, read back, load.

The same seed and size always give the same rows. Raw session tokens are derived from
the seed (so a workload can log in as any user) and are never written anywhere: the
sessions table and its CSV hold only their SHA-256 digests.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import COURSE_EPOCH_MS
from .repository import Repository, direct_conversation_id, group_conversation_id
from .schema import TABLES_IN_LOAD_ORDER
from ..errors import InvalidInput
from ..keys import token_digest

SIZES = {
    "tiny": dict(users=60, contacts=5, groups=8, direct_conversations=80, messages=600),
    "small": dict(users=2_000, contacts=12, groups=150, direct_conversations=3_000, messages=30_000),
    "large": dict(users=20_000, contacts=25, groups=1_500, direct_conversations=40_000, messages=400_000),
}
DAY_MS = 24 * 3600 * 1000
HISTORY_DAYS = 7
SESSION_LIFETIME_MS = 30 * DAY_MS
STATUS_LINES = ("Hey there! I'm using WhatsApp", "Available", "Busy", "At work", "Battery about to die",
                "Can't talk, WhatsApp only", "In a meeting", "Sleeping")
SYLLABLES = ("ka", "lo", "mi", "ra", "sen", "ta", "vi", "no", "el", "an", "zu", "be", "ri", "do", "fa")
WORDS = ("hi", "ok", "see you", "on my way", "lunch?", "call me", "thanks!", "haha", "sounds good",
         "running late", "where are you", "done", "tomorrow?", "good night", "nice photo", "what time")


@dataclass
class Dataset:
    """Rows per table, plus what a workload needs to replay realistic requests."""

    size: str
    seed: int
    tables: dict[str, list[dict]] = field(repr=False)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}

    def session_token(self, user_id: str) -> str:
        """The raw token of the user's data-set session (derived, never stored)."""
        return session_token(self.seed, user_id)

    def to_csv(self, directory: str | Path) -> list[Path]:
        """Write one CSV per table (header row first); return the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for table in TABLES_IN_LOAD_ORDER:
            path = directory / f"{table.name}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=[c.name for c in table.columns], lineterminator="\n")
                writer.writeheader()
                writer.writerows(self.tables[table.name])
            paths.append(path)
        return paths

    @classmethod
    def from_csv(cls, directory: str | Path, size: str = "small", seed: int = 0) -> "Dataset":
        directory = Path(directory)
        tables = {}
        for table in TABLES_IN_LOAD_ORDER:
            path = directory / f"{table.name}.csv"
            if not path.exists():
                raise InvalidInput(f"data set file {path} is missing")
            with path.open(newline="", encoding="utf-8") as handle:
                tables[table.name] = [_typed(table, row) for row in csv.DictReader(handle)]
        return cls(size, seed, tables)


def _typed(table, row: dict) -> dict:
    """CSV text back to column types: integers, and '' as NULL in nullable columns."""
    typed = {}
    for column in table.columns:
        value = row[column.name]
        if value == "" and column.nullable:
            typed[column.name] = None
        elif column.type.python_type is int:
            typed[column.name] = int(value)
        else:
            typed[column.name] = value
    return typed


def session_token(seed: int, user_id: str) -> str:
    mac = hmac.new(f"whatsapp-cache-dataset-{seed}".encode(), user_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def generate(size: str = "small", seed: int = 0) -> Dataset:
    """The data set for a size ('tiny' for tests, 'small' by default, or 'large') and seed.

    Built once per size and seed in a process (the 'small' one takes about a second); each
    call gets its own lists of the same rows, which callers read and never change.
    """
    if not isinstance(size, str) or size not in SIZES:
        raise InvalidInput(f"size must be one of {sorted(SIZES)}, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(f"seed must be an integer, got {seed!r}")
    tables = _generated_tables(size, seed)
    return Dataset(size, seed, {name: list(rows) for name, rows in tables.items()})


@functools.lru_cache(maxsize=4)
def _generated_tables(size: str, seed: int) -> dict[str, tuple[dict, ...]]:
    plan = SIZES[size]
    rng = random.Random(seed)
    users = _users(rng, plan["users"])
    ids = [u["id"] for u in users]
    popularity = _zipf_weights(len(ids), 0.8, rng)
    contacts = _contacts(rng, ids, popularity, plan["contacts"])
    groups, members = _groups(rng, ids, popularity, plan["groups"])
    conversations = _conversations(rng, contacts, groups, plan["direct_conversations"])
    messages = _messages(rng, conversations, members, plan["messages"])
    tables = {"users": users, "sessions": _sessions(seed, ids), "contacts": contacts, "chat_groups": groups,
              "group_members": members, "conversations": conversations, "messages": messages}
    return {name: tuple(rows) for name, rows in tables.items()}


def load(repo: Repository, dataset: Dataset) -> dict[str, int]:
    """Insert the data set into an empty database in one transaction."""
    return repo.bulk_insert(dataset.tables)


def _zipf_weights(n: int, skew: float, rng: random.Random) -> list[float]:
    weights = [1 / (rank + 1) ** skew for rank in range(n)]
    rng.shuffle(weights)
    return weights


def _users(rng: random.Random, count: int) -> list[dict]:
    start = COURSE_EPOCH_MS - HISTORY_DAYS * DAY_MS
    rows = []
    for i in range(count):
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        rows.append({"id": f"u{i:06d}", "username": name, "phone": f"+1555{rng.randrange(10**7):07d}",
                     "profile_pic": f"https://cdn.example.com/pic/u{i:06d}.jpg",
                     "status_message": rng.choice(STATUS_LINES), "last_seen_ms": None,
                     "updated_ms": start + rng.randrange(HISTORY_DAYS * DAY_MS), "version": 1})
    return rows


def _sessions(seed: int, ids: list[str]) -> list[dict]:
    created = COURSE_EPOCH_MS - DAY_MS
    return [{"token_hash": token_digest(session_token(seed, uid)), "user_id": uid, "device": "phone",
             "created_ms": created, "expires_ms": created + SESSION_LIFETIME_MS} for uid in ids]


def _contacts(rng, ids, popularity, per_user) -> list[dict]:
    rows = set()
    for owner in ids:
        for contact in rng.choices(ids, weights=popularity, k=per_user):
            if contact != owner:
                rows.add((owner, contact))
    return [{"owner_id": o, "contact_id": c} for o, c in sorted(rows)]


def _groups(rng, ids, popularity, count) -> tuple[list[dict], list[dict]]:
    groups, members = [], []
    for i in range(count):
        gid = f"g{i:05d}"
        groups.append({"id": gid, "name": f"Group {i}", "created_ms": COURSE_EPOCH_MS - HISTORY_DAYS * DAY_MS})
        size = 0 if i % 50 == 49 else min(256, int(rng.paretovariate(1.2) * 3))
        joined = COURSE_EPOCH_MS - HISTORY_DAYS * DAY_MS
        chosen = sorted(set(rng.choices(ids, weights=popularity, k=size)))
        members += [{"group_id": gid, "user_id": uid, "joined_ms": joined} for uid in chosen]
    return groups, members


def _conversations(rng, contacts, groups, count) -> list[dict]:
    created = COURSE_EPOCH_MS - HISTORY_DAYS * DAY_MS
    pairs = sorted({tuple(sorted((c["owner_id"], c["contact_id"]))) for c in contacts})
    chosen = sorted(rng.sample(pairs, min(count, len(pairs))))
    rows = [{"id": direct_conversation_id(a, b), "kind": "direct", "user_lo": a, "user_hi": b, "group_id": None,
             "created_ms": created} for a, b in chosen]
    rows += [{"id": group_conversation_id(g["id"]), "kind": "group", "user_lo": None, "user_hi": None,
              "group_id": g["id"], "created_ms": created} for g in groups]
    return rows


def _messages(rng, conversations, members, count) -> list[dict]:
    by_group: dict[str, list[str]] = {}
    for m in members:
        by_group.setdefault(m["group_id"], []).append(m["user_id"])
    speakers = {c["id"]: [c["user_lo"], c["user_hi"]] if c["kind"] == "direct" else by_group.get(c["group_id"], [])
                for c in conversations}
    active = [cid for cid in speakers if speakers[cid]]
    weights = _zipf_weights(len(active), 1.0, rng)
    start = COURSE_EPOCH_MS - HISTORY_DAYS * DAY_MS
    times = sorted(start + rng.randrange(HISTORY_DAYS * DAY_MS) for _ in range(count))
    rows = []
    for message_id, (sent_ms, cid) in enumerate(zip(times, rng.choices(active, weights=weights, k=count)), 1):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        rows.append({"id": message_id, "conversation_id": cid, "sender_id": rng.choice(speakers[cid]),
                     "body": words, "sent_ms": sent_ms})
    return rows
