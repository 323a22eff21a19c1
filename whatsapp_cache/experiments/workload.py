"""A seeded day-in-the-life workload over the synthetic data set, replayed on simulated time.

Each action is one user opening the app: authenticate (sessions), a heartbeat at most
once a minute (presence), then one of: open a chat (recent messages + senders'
profiles), send a message (plus the group's members for fan-out), see which contacts
are online, view a contact's profile, or open a group's member list. A mix may also
include "update_profile" (the user changes their status message), which the default leaves out.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field, replace
from itertools import accumulate

from ..datatypes.presence import CLEANUP_INTERVAL_MS
from ..errors import InvalidInput, NotFound
from ..metrics import TypeSummary
from ..world import World

DEFAULT_MIX = (("open_chat", 0.35), ("send_message", 0.15), ("contacts_online", 0.25),
               ("view_profile", 0.15), ("open_group", 0.10))
OPTIONAL_ACTIONS = ("update_profile",)  # allowed in a mix, not in the default one (the tour's figures)
HEARTBEAT_EVERY_MS = 60_000
PROFILES_PER_CHAT = 3


@dataclass(frozen=True)
class WorkloadSpec:
    """What to replay: how many actions, over how long, how skewed towards heavy users."""

    actions: int = 3_000
    duration_s: int = 2 * 3600
    user_skew: float = 1.0
    seed: int = 0
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX

    def __post_init__(self) -> None:
        if isinstance(self.actions, bool) or not isinstance(self.actions, int) or not 1 <= self.actions <= 5_000_000:
            raise InvalidInput("actions must be a whole number from 1 to 5,000,000")
        if not isinstance(self.duration_s, int) or self.duration_s <= 0:
            raise InvalidInput("duration_s must be a positive whole number of seconds")
        if not 0 <= self.user_skew <= 5:
            raise InvalidInput("user_skew must be between 0 (uniform) and 5")
        names = {name for name, _ in DEFAULT_MIX} | set(OPTIONAL_ACTIONS)
        if not self.mix or any(name not in names or weight < 0 for name, weight in self.mix):
            raise InvalidInput(f"mix must pair action names from {sorted(names)} with weights >= 0")
        if sum(weight for _, weight in self.mix) <= 0:
            raise InvalidInput("mix weights must not all be zero")


@dataclass(frozen=True)
class Action:
    at_ms: int
    user_id: str
    kind: str


@dataclass
class _Social:
    """Who talks where: per user, their conversations, contacts and groups."""

    conversations: dict[str, list[str]] = field(default_factory=dict)
    activity: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)


def _social_graph(dataset) -> _Social:
    social = _Social()
    tables = dataset.tables
    for row in tables["messages"]:
        social.activity[row["conversation_id"]] = social.activity.get(row["conversation_id"], 0) + 1
    for row in tables["contacts"]:
        social.contacts.setdefault(row["owner_id"], []).append(row["contact_id"])
    for row in tables["group_members"]:
        social.groups.setdefault(row["user_id"], []).append(row["group_id"])
        social.conversations.setdefault(row["user_id"], []).append(f"grp.{row['group_id']}")
    for row in tables["conversations"]:
        if row["kind"] == "direct":
            for user in (row["user_lo"], row["user_hi"]):
                social.conversations.setdefault(user, []).append(row["id"])
    return social


def plan(dataset, spec: WorkloadSpec, start_ms: int) -> list[Action]:
    """The actions, in time order: users drawn by Zipf(user_skew), kinds by the mix."""
    rng = random.Random(spec.seed)
    users = [row["id"] for row in dataset.tables["users"]]
    rng.shuffle(users)  # heavy users are not simply the first ids
    user_weights = list(accumulate(1 / (rank + 1) ** spec.user_skew for rank in range(len(users))))
    kinds, kind_weights = zip(*spec.mix)
    kind_totals = list(accumulate(kind_weights))
    times = sorted(start_ms + rng.randrange(spec.duration_s * 1000) for _ in range(spec.actions))
    actions = []
    for at in times:
        user = users[bisect.bisect(user_weights, rng.random() * user_weights[-1])]
        kind = kinds[min(bisect.bisect(kind_totals, rng.random() * kind_totals[-1]), len(kinds) - 1)]
        actions.append(Action(at, user, kind))
    return actions


class _Replayer:
    """Turns each planned action into library calls on one World.

    Two hooks do nothing here; a subclass that audits the run overrides them: `touch` (a
    profile, group or conversation is about to be read or written) and `acknowledge` (the
    library confirmed a write: a message sent, a status message changed).
    """

    def __init__(self, world, seed: int):
        self.world = world
        self.social = _social_graph(world.dataset)
        self.rng = random.Random(seed + 1)
        self.last_heartbeat: dict[str, int] = {}
        self.last_cleanup = None
        self.sent = 0
        self.updated = 0

    def touch(self, kind: str, entity_id: str) -> None:
        """About to read or write `entity_id`, a 'profile', 'group' or 'conversation'."""

    def acknowledge(self, kind: str, entity_id: str, value) -> None:
        """The library confirmed a write: ('message', conversation, Message) or ('status', user, text)."""

    def __call__(self, action: Action) -> None:
        world = self.world
        world.clock.advance_to(action.at_ms)
        if action.at_ms // CLEANUP_INTERVAL_MS != self.last_cleanup:  # the app servers' cleanup timer
            world.presence.cleanup()
            self.last_cleanup = action.at_ms // CLEANUP_INTERVAL_MS
        world.sessions.authenticate(world.dataset.session_token(action.user_id))
        if action.at_ms - self.last_heartbeat.get(action.user_id, -HEARTBEAT_EVERY_MS) >= HEARTBEAT_EVERY_MS:
            world.presence.heartbeat(action.user_id)
            self.last_heartbeat[action.user_id] = action.at_ms
        getattr(self, action.kind)(action.user_id)

    def _conversation(self, user: str) -> str | None:
        options = self.social.conversations.get(user)
        if not options:
            return None
        weights = [1 + self.social.activity.get(c, 0) for c in options]
        return self.rng.choices(options, weights=weights)[0]

    def open_chat(self, user: str) -> None:
        conversation = self._conversation(user)
        if conversation is None:
            return self.contacts_online(user)
        senders = []
        self.touch("conversation", conversation)
        for message in self.world.messages.recent(conversation, 20):
            if message.sender_id != user and message.sender_id not in senders:
                senders.append(message.sender_id)
        for sender in senders[:PROFILES_PER_CHAT]:
            self.touch("profile", sender)
            self.world.profiles.get(sender)

    def send_message(self, user: str) -> None:
        conversation = self._conversation(user)
        if conversation is None:
            return self.contacts_online(user)
        self.sent += 1
        self.touch("conversation", conversation)
        message = self.world.messages.send(conversation, user, f"workload message {self.sent}")
        self.acknowledge("message", conversation, message)
        if conversation.startswith("grp."):
            self.touch("group", conversation[4:])
            self.world.groups.members(conversation[4:])

    def contacts_online(self, user: str) -> None:
        self.world.presence.online_among(self.social.contacts.get(user, [user]))

    def view_profile(self, user: str) -> None:
        contacts = self.social.contacts.get(user)
        contact = self.rng.choice(contacts) if contacts else user
        self.touch("profile", contact)
        self.world.profiles.get(contact)

    def open_group(self, user: str) -> None:
        groups = self.social.groups.get(user)
        if not groups:
            return self.view_profile(user)
        group = self.rng.choice(groups)
        self.touch("group", group)
        try:
            self.world.groups.members(group)
        except NotFound:
            pass

    def update_profile(self, user: str) -> None:
        self.updated += 1
        status = f"workload status {self.updated}"
        self.touch("profile", user)
        self.world.profiles.update(user, status_message=status)
        self.acknowledge("status", user, status)


SEED_HIT_RATIOS = {"sessions": 0.95, "presence": 1.00, "messages": 0.70, "profiles": 0.90, "groups": 0.85}


def measure(ttls=None, spec: WorkloadSpec = WorkloadSpec(), size: str = "small") -> list[TypeSummary]:
    """Replay `spec` with these TTLs on a fresh embedded World; the per-type summary, naming that backend.

    Always embedded (fakeredis + SQLite in memory), whatever WHATSAPP_CACHE_REDIS_URL and
    WHATSAPP_CACHE_DATABASE_URL say: a live cache warm from an earlier run would answer every read.
    """
    with World(None, None, seed=spec.seed, dataset=size, ttls=ttls, environment=False) as world:
        return [replace(row, backend=world.config.label) for row in run(world, spec)]


def run(world, spec: WorkloadSpec = WorkloadSpec(), progress: bool = False) -> list[TypeSummary]:
    """Replay the workload on `world` (its clock must be simulated); return the per-type summary."""
    if world.dataset is None:
        raise InvalidInput("this World has no data set loaded; build it with dataset='small'")
    if not hasattr(world.clock, "advance_to"):
        raise InvalidInput("a workload replays on simulated time; build the World with a SimulatedClock")
    actions = plan(world.dataset, spec, world.clock.now_ms())
    replay = _Replayer(world, spec.seed)
    if progress:
        from tqdm.auto import tqdm
        actions = tqdm(actions, desc="replaying", unit="action")
    for action in actions:
        replay(action)
    return world.metrics.summary()
