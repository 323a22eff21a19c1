"""What each operation of the five data types claims to cost in Redis round trips, and the count on the wire.

    rows = measure_claims(World(seed=0))     # a World of its own: it writes
    print(format_measured(rows))

CLAIMED_ROUND_TRIPS says how many round trips each operation takes (on one Redis); measure_claims(world)
prepares each operation, then counts it with wire.count_round_trips on the World's own client, next to
what its Trace recorded.
"""

from __future__ import annotations

import textwrap

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

from .. import validation
from ..errors import InvalidInput
from ..keys import token_digest
from ..tables import Column, format_table
from .wire import WireCount, count_round_trips, fold_trips


class Claim(NamedTuple):
    round_trips: int
    covers: str  # what those round trips carry


BATCH = 20  # ids in the batch claims
FILL_ROW = "messages fill (the seed's 'filling a conversation's recent messages')"
CLAIMED_ROUND_TRIPS: dict[str, Claim] = {
    "sessions.login": Claim(1, "FILL script (the new session, written through)"),
    "sessions.authenticate (hit)": Claim(1, "HGETALL"),
    "sessions.authenticate (miss)": Claim(3, "HGETALL; claim the generation (SET NX + GET, pipelined); FILL script"),
    "sessions.logout": Claim(1, "INVALIDATE script"),
    "presence.heartbeat": Claim(1, "MULTI ZADD GT, PEXPIRE EXEC"),
    "presence.is_online": Claim(1, "ZMSCORE of the marker and the user"),
    "contacts' online status (online_among of a user's contacts)":
        Claim(1, "ZMSCORE of the marker and every contact (the contact list is a database query)"),
    "presence.online_among (miss)": Claim(2, "ZMSCORE; MULTI ZADD GT of all seen, marker, PEXPIRE EXEC"),
    "messages.recent (hit)": Claim(1, "LRANGE"),
    "messages.recent (miss)": Claim(3, "LRANGE; claim the generation (SET NX + GET, pipelined); FILL script"),
    FILL_ROW: Claim(1, "FILL script: DEL, RPUSH of up to 100 messages + marker, PEXPIRE, atomically "
                       "(round trips after the database answered, in a miss)"),
    "messages.send": Claim(1, "PUSH_MESSAGE script"),
    "profiles.get (hit)": Claim(1, "HGETALL"),
    "profiles.get (miss)": Claim(3, "HGETALL; claim the generation (SET NX + GET, pipelined); FILL script"),
    "profiles.update": Claim(1, "INVALIDATE script"),
    f"profiles.get one by one x{BATCH} (misses)": Claim(3 * BATCH, f"{BATCH} x (HGETALL; SET NX + GET; FILL script)"),
    f"profiles.get_many({BATCH}) (misses)": Claim(3, "pipelines: HGETALLs; generation claims; EVALSHA fills"),
    f"profiles.get_many({BATCH}) (hits)": Claim(1, "pipeline of HGETALLs"),
    "groups.members (hit)": Claim(1, "SMEMBERS"),
    "groups.members (miss)": Claim(3, "SMEMBERS; claim the generation (SET NX + GET, pipelined); FILL script"),
    "groups.add_member": Claim(2, "claim the generation (before the database write); CHANGE_MEMBER script"),
    "group fan-out: recipients (the seed: all members of the group)": Claim(1, "SMEMBERS"),
    "group fan-out: online recipients (members, then online_among)":
        Claim(2, "SMEMBERS; ZMSCORE of the marker and the members (it needs the first answer)"),
}


class Operation(NamedTuple):
    """An operation ready to be counted; with `after_query`, only round trips after that repo call count."""

    run: Callable[[], object]
    after_query: str | None = None


@dataclass(frozen=True)
class Subjects:
    """Ids from the World's data set that the operations use."""

    user: str
    batch: list[str]
    chat: str
    sender: str
    group: str
    outsider: str

    @classmethod
    def of(cls, world) -> "Subjects":
        if world.dataset is None:
            raise InvalidInput("measuring the claims needs a World with a data set")
        tables = world.dataset.tables
        users = [row["id"] for row in tables["users"]]
        user = _most(row["owner_id"] for row in tables["contacts"])
        chat = _most(row["conversation_id"] for row in tables["messages"] if row["conversation_id"].startswith("dm."))
        group = _most(row["group_id"] for row in tables["group_members"])
        members = {row["user_id"] for row in tables["group_members"] if row["group_id"] == group}
        return cls(user, users[:BATCH], chat, chat.split(".")[1], group,
                   next(u for u in users if u not in members))


def _most(values) -> str:
    """The most frequent value (the smallest among ties, so the choice is repeatable)."""
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return min(counts, key=lambda value: (-counts[value], value))


# Each operation's preparation (uncounted) puts the cache in the state its claim is about.

def _login(w, s):
    return Operation(lambda: w.sessions.login(s.user))


def _authenticate_hit(w, s):
    token = w.sessions.login(s.user)  # written through: cached
    return Operation(lambda: w.sessions.authenticate(token))


def _authenticate_miss(w, s):
    token = w.sessions.login(s.user)
    w.redis.delete(w.keys.session(token_digest(token.reveal())).data)
    return Operation(lambda: w.sessions.authenticate(token))


def _logout(w, s):
    token = w.sessions.login(s.user)
    return Operation(lambda: w.sessions.logout(token))


def _complete_presence(w, s) -> None:
    w.presence.online_among([s.user])  # a miss refills the set and writes its marker


def _heartbeat(w, s):
    _complete_presence(w, s)
    return Operation(lambda: w.presence.heartbeat(s.user))


def _is_online(w, s):
    _complete_presence(w, s)
    return Operation(lambda: w.presence.is_online(s.user))


def _contacts_online(w, s):
    _complete_presence(w, s)
    return Operation(lambda: w.presence.online_among(w.repo.contacts(s.user)))


def _online_among_miss(w, s):
    w.redis.delete(w.keys.presence())
    return Operation(lambda: w.presence.online_among(w.repo.contacts(s.user)))


def _recent(w, s, cached: bool = True, after_query: str | None = None):
    w.messages.recent(s.chat)
    if not cached:
        w.redis.delete(w.keys.recent_messages(s.chat).data)
    return Operation(lambda: w.messages.recent(s.chat), after_query)


def _send(w, s):
    w.messages.recent(s.chat)  # a cached list for the message to go into
    return Operation(lambda: w.messages.send(s.chat, s.sender, "counted on the wire"))


def _profiles(w, s, ids: list[str], cached: bool, batch: bool):
    w.profiles.get_many(s.batch)
    if not cached:
        w.redis.delete(*(w.keys.profile(u).data for u in ids))
    if batch:
        return Operation(lambda: w.profiles.get_many(ids))
    return Operation(lambda: [w.profiles.get(u) for u in ids])


def _update_profile(w, s):
    return Operation(lambda: w.profiles.update(s.user, status_message="Busy"))


def _members(w, s, cached: bool = True):
    w.groups.members(s.group)
    if not cached:
        w.redis.delete(w.keys.group_members(s.group).data)
    return Operation(lambda: w.groups.members(s.group))


def _add_member(w, s):
    w.groups.members(s.group)
    return Operation(lambda: w.groups.add_member(s.group, s.outsider))


def _online_recipients(w, s):
    _complete_presence(w, s)
    w.groups.members(s.group)
    return Operation(lambda: w.presence.online_among(sorted(w.groups.members(s.group))))


_OPERATIONS: dict[str, Callable] = {
    "sessions.login": _login,
    "sessions.authenticate (hit)": _authenticate_hit,
    "sessions.authenticate (miss)": _authenticate_miss,
    "sessions.logout": _logout,
    "presence.heartbeat": _heartbeat,
    "presence.is_online": _is_online,
    "contacts' online status (online_among of a user's contacts)": _contacts_online,
    "presence.online_among (miss)": _online_among_miss,
    "messages.recent (hit)": _recent,
    "messages.recent (miss)": lambda w, s: _recent(w, s, cached=False),
    FILL_ROW: lambda w, s: _recent(w, s, cached=False, after_query="conversation_history"),
    "messages.send": _send,
    "profiles.get (hit)": lambda w, s: _profiles(w, s, s.batch[:1], cached=True, batch=False),
    "profiles.get (miss)": lambda w, s: _profiles(w, s, s.batch[:1], cached=False, batch=False),
    "profiles.update": _update_profile,
    f"profiles.get one by one x{BATCH} (misses)": lambda w, s: _profiles(w, s, s.batch, cached=False, batch=False),
    f"profiles.get_many({BATCH}) (misses)": lambda w, s: _profiles(w, s, s.batch, cached=False, batch=True),
    f"profiles.get_many({BATCH}) (hits)": lambda w, s: _profiles(w, s, s.batch, cached=True, batch=True),
    "groups.members (hit)": _members,
    "groups.members (miss)": lambda w, s: _members(w, s, cached=False),
    "groups.add_member": _add_member,
    "group fan-out: recipients (the seed: all members of the group)": _members,
    "group fan-out: online recipients (members, then online_among)": _online_recipients,
}


# Counting them ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    """One operation: what is claimed, what the wire carried, what the library's Trace recorded."""

    operation: str
    claimed: int
    covers: str
    counted: int
    handshakes: int
    traced: int | None  # None where the claim covers only part of a request
    sent: str

    @property
    def holds(self) -> bool:
        return self.counted == self.claimed


def measure(world, operation: str, subjects: Subjects | None = None) -> Measured:
    """Prepare one claimed operation on `world`, then run it with its round trips counted."""
    operation = validation.choice(operation, CLAIMED_ROUND_TRIPS, "operation")
    subjects = subjects or Subjects.of(world)
    prepared = _OPERATIONS[operation](world, subjects)
    world.redis.ping()  # a connected client: a handshake is not the operation's cost
    traced_before = _traced(world)
    with count_round_trips(world.redis, world.scripts.names()) as wire:
        with _noting_after(world.repo, prepared.after_query, wire) as noted:
            prepared.run()
    start = noted[0] if noted else 0
    claim = CLAIMED_ROUND_TRIPS[operation]
    traced = None if prepared.after_query else _traced(world) - traced_before
    return Measured(operation, claim.round_trips, claim.covers, wire.round_trips - start, wire.handshakes,
                    traced, fold_trips(wire.trips[start:]))


def measure_claims(world) -> list[Measured]:
    """Every claim of CLAIMED_ROUND_TRIPS, counted on this World's client, in order.

    It writes (logins, a message, a profile update, a group member): give it a World of its own.
    """
    subjects = Subjects.of(world)
    return [measure(world, operation, subjects) for operation in CLAIMED_ROUND_TRIPS]


def _traced(world) -> int:
    return world.metrics.summary()[-1].round_trips


@contextmanager
def _noting_after(repo, query: str | None, wire: WireCount) -> Iterator[list[int]]:
    """Note how many round trips had gone out when the repository's `query` returned."""
    noted: list[int] = []
    if query is None:
        yield noted
        return
    original = getattr(repo, query)

    def noting(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            noted.append(wire.round_trips)

    setattr(repo, query, noting)
    try:
        yield noted
    finally:
        vars(repo).pop(query, None)


def format_measured(rows: list[Measured], width: int = 96) -> str:
    """Operation, claimed, counted on the wire and the Trace's count; under each, what the round trips carry.

    No line is longer than `width` (a laptop's notebook pane): long operation names and the
    description wrap, the description indented under its operation.
    """
    numbers = (Column("claimed", width=7), Column("counted", width=7), Column("Trace", width=5))
    name_width = width - sum(column.width + 2 for column in numbers)
    cells = []
    for row in rows:
        names = textwrap.wrap(row.operation, name_width - 1) or [""]
        mark = "" if row.holds else "  <-- NOT AS CLAIMED"
        carries = textwrap.wrap(f"carries: {row.covers}{mark}", width, initial_indent="    ", subsequent_indent="      ")
        traced = "-" if row.traced is None else row.traced
        cells += [*names[:-1], (names[-1], row.claimed, row.counted, traced), *carries]
    held = sum(row.holds for row in rows)
    cells.append(f"{held}/{len(rows)} operations take the round trips claimed")
    return format_table((Column("operation", "<", width=name_width), *numbers), cells, gap="  ", rule="-")
