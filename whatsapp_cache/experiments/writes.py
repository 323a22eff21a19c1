"""The writes that reach the database: which ones write-behind can merge, and what presence costs.

    writes/s --> messages (a row each: batching lowers the cost per row, not the rows) -------> database
            \\-> status, presence, last-seen (repeated updates of one key) --x merged share --> database

Chapter 07 measures write-behind merging 48% of a mix of 20 hot users at 50% writes, all of them
status updates. Applied to all of the seed's 694 K writes/s it gives 34 database servers, but new
messages cannot be merged: split_writes() applies the merge to the mergeable share only.

Presence is the biggest mergeable stream. PerHeartbeatPresence writes a user's last-seen on every
heartbeat: online users / heartbeat interval. The default (Presence) keeps online status in Redis and
writes last-seen once per online period, when the user goes offline: daily users x online periods a
day / 86,400 s. presence_writes() computes both; by Little's law the ratio is the heartbeats an
online period lasts (its mean length / the interval), so it holds whatever the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..tables import Column, format_table, table_lines
from .loadmodel import LoadInputs, checked_number, positive_number, servers_needed
from .loadmodel import seed_inputs as seed_load_inputs

SECONDS_PER_DAY = 86_400
SEED_MESSAGES_PER_DAY = 60e9  # 694 K writes/s is what 60 billion messages a day give: 60e9 / 86,400 = 694,444
MESSAGE_SHARES = (1.0, 0.9, 0.75, 0.5, 0.0)


@dataclass(frozen=True)
class WriteSplit:
    """Database writes and servers when only the mergeable share of the writes is merged."""

    writes_per_s: float
    message_share: float
    mergeable_to_db: float
    message_writes_per_s: float
    mergeable_writes_per_s: float
    db_writes_per_s: float
    db_servers: int

    @property
    def fraction_to_db(self) -> float:
        """The share of all writes that reach the database."""
        return self.db_writes_per_s / self.writes_per_s if self.writes_per_s else 0.0


def split_writes(message_share: float, mergeable_to_db: float, inputs: LoadInputs | None = None) -> WriteSplit:
    """Writes reaching the database when `message_share` of them are messages (never merged) and the
    rest reach it at `mergeable_to_db` (write-behind's measured share); servers at the inputs' rate."""
    inputs = seed_load_inputs() if inputs is None else inputs
    share = checked_number(message_share, "message_share", 0, 1)
    merged = checked_number(mergeable_to_db, "mergeable_to_db", 0, 1)
    messages = inputs.writes_per_s * share
    mergeable = inputs.writes_per_s - messages
    to_db = messages + mergeable * merged
    return WriteSplit(inputs.writes_per_s, share, merged, messages, mergeable, to_db,
                      servers_needed(to_db, inputs.db_writes_per_server))


def format_splits(mergeable_to_db: float, shares=MESSAGE_SHARES, inputs: LoadInputs | None = None) -> str:
    """One line per share of messages among the writes: writes reaching the database and servers."""
    columns = (Column("messages", format=".0%", width=9), Column("mergeable", format=",.0f", width=10),
               Column("to database", format=",.0f", width=12), Column("share", format=".1%", width=6),
               Column("servers", width=8))
    splits = [split_writes(share, mergeable_to_db, inputs) for share in shares]
    return format_table(columns, [(s.message_share, s.mergeable_writes_per_s, s.db_writes_per_s, s.fraction_to_db,
                                   s.db_servers) for s in splits], rule="-")


@dataclass(frozen=True)
class PresenceInputs:
    """Presence at scale; every figure is an assumption to change, none is the seed's (it gives none).

    `users_online` are online at once; each sends a heartbeat every `heartbeat_interval_s` (the
    library's workload: 60 s). `daily_users` come online `online_periods_per_day` times a day each;
    an online period ends when heartbeats stop for the presence window (5 minutes), so app opens a
    few minutes apart make one period.
    """

    users_online: float = 100e6
    heartbeat_interval_s: float = 60
    daily_users: float = 1e9
    online_periods_per_day: float = 10

    def __post_init__(self) -> None:
        for name in ("users_online", "daily_users", "online_periods_per_day"):
            object.__setattr__(self, name, checked_number(getattr(self, name), name))
        object.__setattr__(self, "heartbeat_interval_s",
                           positive_number(self.heartbeat_interval_s, "heartbeat_interval_s"))


@dataclass(frozen=True)
class PresenceWrites:
    """Database writes a second for presence: one per heartbeat, or one per online period."""

    inputs: PresenceInputs
    per_heartbeat_per_s: float
    by_design_per_s: float
    db_writes_per_server: float

    @property
    def ratio(self) -> float:
        """How many times more writes the per-heartbeat design makes."""
        return self.per_heartbeat_per_s / self.by_design_per_s if self.by_design_per_s else float("inf")

    @property
    def mean_online_period_s(self) -> float:
        """Little's law: users online = online periods begun a second x their mean length."""
        return self.inputs.users_online / self.by_design_per_s if self.by_design_per_s else float("inf")

    @property
    def per_heartbeat_servers(self) -> int:
        return servers_needed(self.per_heartbeat_per_s, self.db_writes_per_server)

    @property
    def by_design_servers(self) -> int:
        return servers_needed(self.by_design_per_s, self.db_writes_per_server)


def presence_writes(inputs: PresenceInputs | None = None, db_writes_per_server: float = 10_000) -> PresenceWrites:
    """Per heartbeat: online users / interval. By design: daily users x online periods / 86,400 s."""
    inputs = PresenceInputs() if inputs is None else inputs
    per_server = positive_number(db_writes_per_server, "db_writes_per_server")
    per_heartbeat = inputs.users_online / inputs.heartbeat_interval_s
    by_design = inputs.daily_users * inputs.online_periods_per_day / SECONDS_PER_DAY
    return PresenceWrites(inputs, per_heartbeat, by_design, per_server)


def format_presence(result: PresenceWrites) -> str:
    """Both designs' database writes a second and servers, and the inputs behind them."""
    i, r = result.inputs, result
    columns = (Column("design", "<", width=42), Column("db writes/s", format=",.0f", width=12),
               Column("servers", width=8))
    return "\n".join([
        f"inputs: {i.users_online:,.0f} users online, a heartbeat every {i.heartbeat_interval_s:g} s, "
        f"{i.daily_users:,.0f} daily users x {i.online_periods_per_day:g} online periods",
        *table_lines(columns, [("per heartbeat (PerHeartbeatPresence)", r.per_heartbeat_per_s, r.per_heartbeat_servers),
                               ("last-seen when going offline (Presence)", r.by_design_per_s, r.by_design_servers)]),
        f"ratio {r.ratio:.1f}x = a mean online period ({r.mean_online_period_s / 60:.1f} min, Little's law) "
        f"/ the heartbeat interval",
    ])
