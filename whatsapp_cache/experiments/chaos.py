"""Kill Redis in the middle of a workload: does the app stay up, lose nothing, and come back?

The seed's Q2 ("What happens if Redis crashes?") answers "every request hits the database, slower
but functional"; run_chaos runs that claim: a seeded workload replayed through an outage, then what
users saw (failures, database reads, hit ratio per phase) and what the system kept (lost writes,
stale entries). One code path for every outage:

    FakeOutage(world, "down")       fakeredis refuses every call; its data survives (a network cut)
    FakeOutage(world, "hung")       every round trip times out, process-wide (a hung server)
    FakeOutage(world, "lost")       refused, and back empty (a restart without persistence)
    ServerOutage(server, "kill")    SIGKILL a throw-away redis-server; restarted empty at the end
    ServerOutage(server, "pause")   SIGSTOP it; SIGCONT at the end (data kept, clients time out)
    ClusterFailover(lab)            SIGKILL a master of a LocalCluster; its replica is promoted

Everything but the measured (wall-clock) figures is deterministic for a given seed on fakeredis.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from . import faults
from ..datatypes.messages import RECENT_LIMIT, Message
from ..datatypes.profiles import Profile
from ..db.repository import PROFILE_FIELDS, batches
from ..errors import InvalidInput, NotFound
from ..validation import whole_number
from ..metrics import READ_OUTCOMES, RequestRecord, percentile
from ..lab.process import RedisProcess
from ..lab.cluster import LocalCluster
from ..lab.replication import lost_writes_on_failover
from ..resilience.last_known_good import AGES_KEPT
from ..resilience import HALF_OPEN, OPEN
from ..tables import Column, table_lines
from .workload import WorkloadSpec, _Replayer, plan
from ..world import World

PHASES = ("before", "during", "after")
CHAOS_MIX = (("open_chat", 0.33), ("send_message", 0.14), ("contacts_online", 0.24),
             ("view_profile", 0.15), ("open_group", 0.10), ("update_profile", 0.04))
AUDITED = ("profile", "group", "conversation")


# --- outages ----------------------------------------------------------------------------------

class Outage:
    """Redis taken away between begin() and end(); subclasses say how it breaks and mends."""

    MODES: dict[str, str] = {}
    backend = ""

    def __init__(self, mode: str):
        if mode not in self.MODES:
            raise InvalidInput(f"mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        self.mode = mode
        self.active = False

    @property
    def name(self) -> str:
        return f"{self.backend} {self.mode}"

    def describe(self) -> str:
        return f"{self.name} ({self.MODES[self.mode]})"

    def begin(self) -> None:
        if self.active:
            raise InvalidInput("this outage has already begun")
        self._break()
        self.active = True

    def end(self) -> None:
        if not self.active:
            raise InvalidInput("this outage has not begun")
        self.active = False
        self._mend()

    def _break(self) -> None:
        raise NotImplementedError

    def _mend(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.mode}{' active' if self.active else ''}>"


class FakeOutage(Outage):
    """An outage of a World's fakeredis: 'down' (refused, data kept) or 'hung' (every call times out)."""

    MODES = {"down": "connection refused, data kept: a network cut",
             "hung": "every call times out: a hung server",
             "lost": "connection refused, back empty: a restart without persistence"}
    backend = "fakeredis"

    def __init__(self, world, mode: str = "down"):
        super().__init__(mode)
        self.client = world.redis
        self.server = world.redis.connection_pool.connection_kwargs.get("server")
        if self.server is None:
            raise InvalidInput("FakeOutage needs a World on fakeredis; use ServerOutage for a redis-server")
        self._hang = None

    def _break(self) -> None:
        if self.mode in ("down", "lost"):
            self.server.connected = False
            return
        self._hang = faults.unreachable("timeout")
        self._hang.__enter__()

    def _mend(self) -> None:
        if self.mode in ("down", "lost"):
            self.server.connected = True
            if self.mode == "lost":
                self.client.flushall()  # what a restart without persistence finds: nothing
            return
        hang, self._hang = self._hang, None
        hang.__exit__(None, None, None)


class ServerOutage(Outage):
    """An outage of a throw-away redis-server: 'kill' (SIGKILL, restarted empty) or 'pause' (SIGSTOP)."""

    MODES = {"kill": "SIGKILL, restarted empty at the end: a crash without persistence",
             "pause": "SIGSTOP, SIGCONT at the end: a hung process, data kept, clients time out"}
    backend = "redis-server"

    def __init__(self, server: RedisProcess, mode: str = "kill"):
        super().__init__(mode)
        if not isinstance(server, RedisProcess) or server.process is None:
            raise InvalidInput("ServerOutage needs a started RedisProcess (only our own child is signalled)")
        self.server = server

    def _break(self) -> None:
        if self.mode == "kill":
            self.server.kill()
        else:
            self.server.pause()

    def _mend(self) -> None:
        if self.mode == "kill":
            self.server.restart()
        else:
            self.server.resume()


class ClusterFailover(Outage):
    """A master of a LocalCluster SIGKILLed at the outage's start; its end waits for the promoted replica.

    The victim is the master holding the most keys at the kill (ties: the lowest slots), so a given
    seed always picks the same slot range. The old master is not restarted here: the after phase runs
    on the promoted replica, alone with its slots (run_failover restarts it afterwards, empty).

    Time: the workload replays on the simulated clock, the failover takes real seconds (node timeout,
    then an election). The simulated outage window stands for the time the slots have no master: the
    kill comes at its start, and its end blocks until wait_for_failover returns, so the replay does not
    leave the window before the promotion. Its requests are replayed meanwhile, at full speed, against
    the dead master; they are faster than the failover (window_replay_s < failover_s in the report; if
    not, the last ones already saw the new master).
    """

    MODES = {"failover": "SIGKILL of the master with the most keys; the cluster promotes its replica"}
    backend = "redis cluster"

    def __init__(self, lab, mode: str = "failover", timeout_s: float = 30.0):
        super().__init__(mode)
        if not isinstance(lab, LocalCluster) or lab.dir is None or lab.replicas_per_master < 1 or lab.masters < 3:
            raise InvalidInput("ClusterFailover needs a started LocalCluster with >= 3 masters, each with a replica")
        self.lab, self.timeout_s = lab, timeout_s
        self.victim: int | None = None
        self.heir: int | None = None
        self.slots: tuple = ()
        self.keys = 0
        self.window_replay_s: float | None = None  # kill -> the replay reached the window's end (real)
        self.failover_s: float | None = None       # kill -> promoted replica serving, every slot covered (real)
        self._killed = 0.0

    def _break(self) -> None:
        masters = [n for n in self.lab.nodes() if n.role == "master" and n.slots and n.alive]
        victim = max(masters, key=lambda n: (n.keys or 0, -n.slots[0][0]))
        self.victim, self.slots, self.keys = victim.port, victim.slots, victim.keys or 0
        self.lab.kill(victim.port)
        self._killed = time.monotonic()

    def _mend(self) -> None:
        self.window_replay_s = time.monotonic() - self._killed
        heir = self.lab.wait_for_failover(self.victim, self.timeout_s)
        self.failover_s = time.monotonic() - self._killed
        self.heir = heir.port

    def facts(self) -> dict:
        """What happened to the cluster, for the report (wall-clock figures named measured_*)."""
        return {"slots": [list(pair) for pair in self.slots], "keys_on_victim": self.keys,
                "old_master_restarted": False, "measured_window_replay_s": self.window_replay_s,
                "measured_failover_s": self.failover_s}


# --- the experiment's parameters ----------------------------------------------------------------

@dataclass(frozen=True)
class ChaosSpec:
    """The workload and the outage's place in it, in simulated seconds from the start.

    The hit ratio counts as recovered from the first `recovery_window_s` window after the
    outage (windows step by `bucket_s`) whose hit ratio reaches `recovery_share` of the
    steady state: the last `recovery_window_s` before the outage (the run starts cold, so
    the whole before phase would set too low a bar).
    """

    actions: int = 3_000
    duration_s: int = 600
    outage_from_s: int = 200
    outage_until_s: int = 400
    bucket_s: int = 10
    recovery_window_s: int = 30
    recovery_share: float = 0.95
    user_skew: float = 1.0
    seed: int = 0
    mix: tuple[tuple[str, float], ...] = CHAOS_MIX

    def __post_init__(self) -> None:
        whole_number(self.seed, "seed", -2**63, 2**63 - 1)
        try:
            _ = self.workload  # WorkloadSpec checks actions, duration, skew and mix
        except InvalidInput:
            raise
        except (TypeError, ValueError):
            raise InvalidInput("mix must be (action, weight) pairs and user_skew a number") from None
        whole_number(self.outage_from_s, "outage_from_s", 0, self.duration_s - 1)
        whole_number(self.outage_until_s, "outage_until_s", self.outage_from_s + 1, self.duration_s)
        whole_number(self.bucket_s, "bucket_s", 1, self.duration_s)
        whole_number(self.recovery_window_s, "recovery_window_s", 1, self.duration_s)
        share = self.recovery_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise InvalidInput("recovery_share must be a number in (0, 1]")

    @property
    def workload(self) -> WorkloadSpec:
        return WorkloadSpec(self.actions, self.duration_s, self.user_skew, self.seed, self.mix)



# --- the report ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseStats:
    """Requests of one phase (before, during or after the outage); latencies are per request."""

    phase: str
    from_s: int
    until_s: int
    requests: int
    reads: int
    hits: int
    hit_ratio: float
    fallbacks: int
    failed: int
    db_queries: int
    db_queries_per_s: float
    mean_simulated_ms: float
    p50_simulated_ms: float
    p99_simulated_ms: float
    mean_measured_ms: float
    served_stale: int = 0  # reads answered by a last known good copy (stale-if-error)


@dataclass(frozen=True)
class Bucket:
    """One slice of the timeline, `start_s` simulated seconds after the start."""

    start_s: int
    requests: int
    reads: int
    hit_ratio: float
    mean_simulated_ms: float
    db_queries: int
    fallbacks: int
    served_stale: int = 0
    failed: int = 0


@dataclass(frozen=True)
class WriteCheck:
    """Writes the library acknowledged, and how many the database does not hold."""

    messages_acknowledged: int
    messages_lost: int
    status_updates_acknowledged: int
    users_updated: int
    statuses_lost: int

    @property
    def lost(self) -> int:
        return self.messages_lost + self.statuses_lost


@dataclass(frozen=True)
class Audit:
    """Touched entries read through the library and compared with the database."""

    checked: int
    from_cache: int
    stale: int
    unchecked: int
    examples: tuple[str, ...] = ()


@dataclass
class ChaosReport:
    """What users saw during the outage and what the system kept; to_dict() for JSON."""

    outage: str
    backends: dict
    policy: dict
    spec: dict
    requests: int
    failed: int
    fallbacks: int
    phases: list[PhaseStats]
    timeline: list[Bucket]
    transitions: list[tuple[float, str]]
    guard: dict
    steady_hit_ratio: float
    recovery_s: float | None
    writes: WriteCheck
    audit: Audit | None  # None: run_chaos(audit=False) did not check
    failures: list[tuple[float, str]] = field(default_factory=list)
    measured_wall_s: float = 0.0
    failover: dict | None = None  # ClusterFailover only: the killed slots, timings, lost cache writes
    served_stale: int = 0  # reads answered by a last known good copy (stale-if-error)
    stale_ages_s: list[float] = field(default_factory=list)  # the age of each of them, in simulated s
    capacity: dict | None = None  # the simulated database's capacity and shedding, if it has one

    @property
    def lost_writes(self) -> int:
        return self.writes.lost

    @property
    def stale(self) -> int | None:
        """Stale entries the audit found after the run (not the stale answers served on purpose);
        None if the run was not audited."""
        return None if self.audit is None else self.audit.stale

    def stale_age_s(self, percent: float) -> float:
        """A percentile of the served stale answers' ages, in simulated seconds (0.0 if none)."""
        return percentile(self.stale_ages_s, percent)

    def phase(self, name: str) -> PhaseStats:
        """The stats of 'before', 'during' or 'after'."""
        return self.phases[PHASES.index(name)]

    def to_dict(self) -> dict:
        """Everything as plain JSON-able values (measured figures are named measured_*)."""
        data = asdict(self)
        data["phases"] = {phase["phase"]: phase for phase in data["phases"]}
        data["writes"]["lost"] = self.lost_writes
        data["lost_writes"], data["stale"] = self.lost_writes, self.stale
        data["transitions"] = [list(change) for change in self.transitions]
        data["failures"] = [list(failure) for failure in self.failures]
        if self.audit is not None:
            data["audit"]["examples"] = list(self.audit.examples)
        return data


# --- running it ---------------------------------------------------------------------------------

class _AuditedReplayer(_Replayer):
    """The workload's replayer, noting what it touched and which writes the library acknowledged."""

    def __init__(self, world, seed: int):
        super().__init__(world, seed)
        self.touched: dict[str, set[str]] = {kind: set() for kind in AUDITED}
        self.messages: list[Message] = []
        self.statuses: dict[str, str] = {}
        self.status_updates = 0

    def touch(self, kind: str, entity_id: str) -> None:
        self.touched[kind].add(entity_id)

    def acknowledge(self, kind: str, entity_id: str, value) -> None:
        if kind == "message":
            self.messages.append(value)
        else:
            self.statuses[entity_id] = value
            self.status_updates += 1


def run_chaos(world, outage: Outage, spec: ChaosSpec = ChaosSpec(), progress: bool = False,
              audit: bool = True) -> ChaosReport:
    """Replay `spec` on `world` with `outage` from outage_from_s to outage_until_s; the report.

    The workload is the tour's mix plus a few status changes, replayed action by action on simulated
    time. The report counts requests attempted, failed (an exception reached the caller) and served
    from the database; per phase (before, during, after) hit ratio, database queries per second and
    simulated latency; the breaker's changes; and checks that every acknowledged write is in the
    database (lost writes) and every profile, group and conversation touched reads as the database has
    it (stale entries). For the naive comparison give a World built with FailurePolicy(breaker=False,
    repair=False): every call waits out its timeout, and an outage that keeps the data leaves stale
    entries behind.

    `audit=False` skips reading every touched entry back afterwards (a quarter of a run's time):
    for runs that measure load and latency only; the report's audit (and `stale`) is then None.
    """
    _check_world(world, outage, spec)
    start_ms = world.clock.now_ms()
    first_transition = len(world.guard.transitions())
    stats_before = asdict(world.guard.stats)
    ages_before = len(world.last_good.stats.served_ages) if world.last_good is not None else 0
    replayer = _AuditedReplayer(world, spec.seed)
    started = time.perf_counter()
    with world.metrics.recording() as records:  # every request of the run, however few the log keeps
        failures = _replay(world, outage, spec, replayer, start_ms, progress)
    wall_s = time.perf_counter() - started
    transitions = [(round((at - start_ms) / 1000, 3), state)
                   for at, state in world.guard.transitions()[first_transition:]]
    guard = {name: value - stats_before[name] for name, value in asdict(world.guard.stats).items()}
    writes = _check_writes(world, replayer)
    checked = _without_capacity(world, _audit, replayer.touched) if audit else None
    report = _report(world, outage, spec, start_ms, records, failures, transitions, guard, writes, checked, wall_s)
    report.stale_ages_s = _served_ages_s(world, ages_before)
    if isinstance(outage, ClusterFailover):
        report.failover = outage.facts()
    return report


def run_failover(spec: ChaosSpec = ChaosSpec(), database_url: str | None = None, reset: bool = False,
                 lost_writes: bool = True, progress: bool = False, lab=None, policy=None) -> ChaosReport:
    """The failover experiment on local processes; the report, with the lab stopped afterwards.

    1. a 3 x 1 LocalCluster (node timeout 1000 ms) unless `lab` is given (then it is left running),
       a World on it (?cluster=true, data set 'small') and database_url (None: as World, so
       $WHATSAPP_CACHE_DATABASE_URL, else embedded SQLite; reset drops and reloads its tables first);
    2. run_chaos with ClusterFailover: the master with the most keys is SIGKILLed at outage_from_s,
       the replay waits at outage_until_s for its replica's promotion; then the old master is
       restarted (empty; it rejoins as the heir's replica);
    3. with lost_writes, replication.lost_writes_on_failover twice on the same lab (the old master
       restarted in between): raw SETs acknowledged by a master whose replica is cut off, the master
       SIGKILLed, the promoted replica checked. These are cache writes: the database has every
       acknowledged write of the workload (the report's lost writes count those).
    """
    own = lab is None
    lab = LocalCluster(masters=3, replicas_per_master=1, node_timeout_ms=1000) if own else lab
    world = None
    try:
        if own:
            lab.start()
        world = World(lab.url + "?cluster=true", database_url, seed=spec.seed, dataset=None if reset else "small",
                      failure_policy=policy)
        if reset:
            world.reset("small")
        outage = ClusterFailover(lab)
        report = run_chaos(world, outage, spec, progress)
        world.close()
        world = None
        lab.restart(outage.victim)
        report.failover["old_master_restarted"] = True
        if lost_writes:
            report.failover["cache_writes"] = _lost_cache_writes(lab)
        return report
    finally:
        if world is not None:
            world.close()
        if own:
            lab.stop()


def _lost_cache_writes(lab) -> dict:
    """Acknowledged raw writes lost on a failover, without WAIT and with WAIT 1 (the victims restarted after)."""
    results = {}
    for name, timeout_ms in (("without_wait", None), ("with_wait", 50)):
        lost = lost_writes_on_failover(lab, synced=10, cut_off=10, wait_timeout_ms=timeout_ms)
        results[name] = {**asdict(lost), "acknowledged": lost.acknowledged, "describe": lost.describe()}
        lab.restart_killed()
    return results


def _served_ages_s(world, ages_before: int) -> list[float]:
    """The ages of the stale answers served since `ages_before` were, in seconds."""
    if world.last_good is None:
        return []
    ages = list(world.last_good.stats.served_ages)[ages_before:] if ages_before < AGES_KEPT else []
    return [age / 1000 for _, age in ages]


def _check_world(world, outage, spec) -> None:
    if not isinstance(outage, Outage):
        raise InvalidInput("outage must be a FakeOutage, a ServerOutage or a ClusterFailover")
    if not isinstance(spec, ChaosSpec):
        raise InvalidInput("spec must be a ChaosSpec")
    if world.dataset is None:
        raise InvalidInput("this World has no data set loaded; build it with dataset='small'")
    if not hasattr(world.clock, "advance_to"):
        raise InvalidInput("the experiment replays on simulated time; build the World with a SimulatedClock")
    if not world.metrics.keep_log:
        raise InvalidInput("the experiment reads the request log; keep world.metrics.keep_log on")
    if outage.active:
        raise InvalidInput("the outage has already begun")


def _replay(world, outage, spec, replayer, start_ms: int, progress: bool) -> list[tuple[float, str]]:
    """Every action in time order, the outage switched on and off as the clock passes its bounds."""
    actions = plan(world.dataset, spec.workload, start_ms)
    switches = [(start_ms + spec.outage_from_s * 1000, outage.begin),
                (start_ms + spec.outage_until_s * 1000, outage.end)]
    failures = []
    try:
        for action in _with_progress(actions, progress):
            while switches and action.at_ms >= switches[0][0]:
                _switch(world, *switches.pop(0))
            failure = _attempt(replayer, action, start_ms)
            if failure is not None:
                failures.append(failure)
        if outage.active:  # the workload ended before the outage did
            _switch(world, *switches.pop(0))
    finally:
        if outage.active:  # interrupted mid-outage: never leave Redis broken
            outage.end()
    return failures


def _with_progress(actions, progress: bool):
    if not progress:
        return actions
    from tqdm.auto import tqdm

    return tqdm(actions, desc="replaying with an outage", unit="action")


def _switch(world, at_ms: int, step) -> None:
    world.clock.advance_to(at_ms)
    step()


def _attempt(replayer, action, start_ms: int) -> tuple[float, str] | None:
    """Replay one action; an exception reaching the user is a failed request, never the end of the run."""
    try:
        replayer(action)
    except NotFound:
        return None  # "no such id" is an answer
    except Exception as exc:
        return (action.at_ms - start_ms) / 1000, f"{action.kind}: {type(exc).__name__}: {exc}"
    return None


# --- what the system kept -----------------------------------------------------------------------

def _check_writes(world, replayer: _AuditedReplayer) -> WriteCheck:
    """Acknowledged messages stored with their bodies; each user's last acknowledged status kept."""
    stored = world.repo.message_bodies(message.id for message in replayer.messages)
    messages_lost = sum(stored.get(message.id) != message.body for message in replayer.messages)
    statuses_lost = sum(_stored_status(world, user) != status for user, status in replayer.statuses.items())
    return WriteCheck(len(replayer.messages), messages_lost, replayer.status_updates, len(replayer.statuses),
                      statuses_lost)


def _stored_status(world, user_id: str) -> str | None:
    row = world.repo.user(user_id)
    return None if row is None else row["status_message"]


def _audit(world, touched: dict[str, set[str]]) -> Audit:
    """Read every touched entry through the library and compare it with the database."""
    if world.failure_policy.breaker and world.guard.any_open():
        world.clock.advance(world.failure_policy.reset_after_ms)  # let the breaker probe Redis again
    outcomes, stale = {"hit": 0, "miss": 0, "fallback": 0}, []
    for kind in AUDITED:
        entities = sorted(touched[kind])
        cached_read, stored_reads = AUDIT_READS[kind]
        stored = stored_reads(world, entities)
        for entity in entities:
            cached = cached_read(world, entity)
            outcome = world.metrics.log[-1].outcome
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome != "fallback" and cached != stored[entity]:
                stale.append(f"{kind} {entity}")
    checked = outcomes["hit"] + outcomes["miss"]
    return Audit(checked, outcomes["hit"], len(stale), outcomes["fallback"], tuple(stale[:5]))


def _without_capacity(world, check, *args):
    """Run a check with the database's capacity model set aside: the audit is not traffic."""
    capacity, world.latency.database = world.latency.database, None
    try:
        return check(world, *args)
    finally:
        world.latency.database = capacity


def _library_read(read, *args):
    try:
        return read(*args)
    except NotFound:
        return None


def _cached_profile(world, user_id: str):
    return _library_read(world.profiles.get, user_id)


def _stored_profiles(world, user_ids: list[str]) -> dict:
    """Each user's profile as the database holds it (None: no such user), BATCH ids a query, not one each."""
    rows = {}
    for batch in batches(user_ids):
        rows.update(world.repo.users(batch))
    return {user_id: None if user_id not in rows else
            Profile(user_id, **{name: rows[user_id][name] for name in PROFILE_FIELDS}) for user_id in user_ids}


def _cached_group(world, group_id: str):
    return _library_read(world.groups.members, group_id)


def _stored_groups(world, group_ids: list[str]) -> dict:
    return {group_id: _stored_roster(world, group_id) for group_id in group_ids}


def _stored_roster(world, group_id: str) -> frozenset | None:
    roster = world.repo.group_roster(group_id)
    return None if roster is None else frozenset(roster)


def _cached_conversation(world, conversation_id: str):
    return _library_read(world.messages.recent, conversation_id, RECENT_LIMIT)


def _stored_conversations(world, conversation_ids: list[str]) -> dict:
    return {conversation_id: _stored_history(world, conversation_id) for conversation_id in conversation_ids}


def _stored_history(world, conversation_id: str) -> list[Message] | None:
    rows = world.repo.conversation_history(conversation_id, RECENT_LIMIT)
    return None if rows is None else [Message(**row) for row in rows]


# kind -> (its read through the library, one entry at a time; the database's values of many, by id)
AUDIT_READS = {"profile": (_cached_profile, _stored_profiles), "group": (_cached_group, _stored_groups),
               "conversation": (_cached_conversation, _stored_conversations)}


# --- figures ------------------------------------------------------------------------------------

def _report(world, outage, spec, start_ms, records, failures, transitions, guard, writes, audit,
            wall_s) -> ChaosReport:
    phases = _phases(spec, start_ms, records, failures)
    return ChaosReport(
        outage=outage.describe(),
        backends={"redis": world.config.redis_label, "database": world.config.database_label},
        policy={**asdict(world.failure_policy), "timeout_ms": world.failure_policy.timeout_ms},
        spec={**asdict(spec), "mix": [list(pair) for pair in spec.mix]},
        requests=len(records),
        failed=len(failures),
        fallbacks=sum(record.outcome == "fallback" for record in records),
        phases=phases,
        timeline=_timeline(spec, start_ms, records, failures),
        transitions=transitions,
        guard=guard,
        steady_hit_ratio=_steady_ratio(spec, start_ms, records),
        recovery_s=_recovery_s(spec, start_ms, records, _steady_ratio(spec, start_ms, records)),
        writes=writes,
        audit=audit,
        failures=failures,
        measured_wall_s=wall_s,
        served_stale=sum(record.outcome == "stale" for record in records),
        capacity=_capacity(world),
    )


def _capacity(world) -> dict | None:
    database = world.latency.database
    return None if database is None else {"queries_per_s": database.queries_per_s,
                                           "shed_reads_at": database.shed_reads_at}


def _phases(spec: ChaosSpec, start_ms: int, records: list[RequestRecord], failures) -> list[PhaseStats]:
    bounds = (0, spec.outage_from_s, spec.outage_until_s, spec.duration_s)
    phases = []
    for name, low, high in zip(PHASES, bounds, bounds[1:]):
        inside = [r for r in records if low * 1000 <= r.at_ms - start_ms < high * 1000]
        failed = sum(low <= at_s < high for at_s, _ in failures)
        phases.append(_phase_stats(name, low, high, inside, failed))
    return phases


def _phase_stats(name: str, from_s: int, until_s: int, records: list[RequestRecord], failed: int) -> PhaseStats:
    latencies = sorted(r.simulated_ms for r in records)
    reads, hits = _reads_and_hits(records)
    db_queries = sum(r.db_queries for r in records)
    return PhaseStats(
        phase=name, from_s=from_s, until_s=until_s, requests=len(records), reads=reads, hits=hits,
        hit_ratio=hits / reads if reads else 0.0,
        fallbacks=sum(r.outcome == "fallback" for r in records), failed=failed, db_queries=db_queries,
        db_queries_per_s=db_queries / (until_s - from_s) if until_s > from_s else 0.0,
        mean_simulated_ms=_mean(latencies), p50_simulated_ms=percentile(latencies, 50),
        p99_simulated_ms=percentile(latencies, 99),
        mean_measured_ms=_mean([r.measured_ms for r in records]),
        served_stale=sum(r.outcome == "stale" for r in records),
    )


def _timeline(spec: ChaosSpec, start_ms: int, records: list[RequestRecord], failures=()) -> list[Bucket]:
    bucket_ms = spec.bucket_s * 1000
    slices: list[list[RequestRecord]] = [[] for _ in range(math.ceil(spec.duration_s / spec.bucket_s))]
    for record in records:
        slices[min((record.at_ms - start_ms) // bucket_ms, len(slices) - 1)].append(record)
    failed = [0] * len(slices)
    for at_s, _ in failures:
        failed[min(int(at_s // spec.bucket_s), len(slices) - 1)] += 1
    return [_bucket(index * spec.bucket_s, inside, failed[index]) for index, inside in enumerate(slices)]


def _bucket(start_s: int, records: list[RequestRecord], failed: int = 0) -> Bucket:
    reads, hits = _reads_and_hits(records)
    return Bucket(start_s, len(records), reads, hits / reads if reads else 0.0,
                  _mean([r.simulated_ms for r in records]), sum(r.db_queries for r in records),
                  sum(r.outcome == "fallback" for r in records), sum(r.outcome == "stale" for r in records), failed)


def _steady_ratio(spec: ChaosSpec, start_ms: int, records: list[RequestRecord]) -> float:
    """The hit ratio of the last `recovery_window_s` before the outage."""
    outage_ms = start_ms + spec.outage_from_s * 1000
    window_ms = spec.recovery_window_s * 1000
    reads, hits = _reads_and_hits([r for r in records if outage_ms - window_ms <= r.at_ms < outage_ms])
    return hits / reads if reads else 0.0


def _recovery_s(spec: ChaosSpec, start_ms: int, records: list[RequestRecord], steady_ratio: float) -> float | None:
    """Seconds from the outage's end to the first window whose hit ratio is back to the target."""
    target = spec.recovery_share * steady_ratio
    end_ms = start_ms + spec.outage_until_s * 1000
    run_end_ms = start_ms + spec.duration_s * 1000
    after = [r for r in records if r.at_ms >= end_ms]
    for window_ms in range(end_ms, run_end_ms, spec.bucket_s * 1000):
        inside = [r for r in after if window_ms <= r.at_ms < window_ms + spec.recovery_window_s * 1000]
        reads, hits = _reads_and_hits(inside)
        if reads and hits / reads >= target:
            return (window_ms - end_ms) / 1000
    return None


def _reads_and_hits(records: list[RequestRecord]) -> tuple[int, int]:
    reads = sum(r.outcome in READ_OUTCOMES for r in records)
    return reads, sum(r.outcome == "hit" for r in records)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# --- text ---------------------------------------------------------------------------------------

def failure_kinds(report: ChaosReport) -> dict[str, int]:
    """Failed requests by the exception that reached the user (e.g. DatabaseOverloaded, LoadShed)."""
    kinds: dict[str, int] = {}
    for _, text in report.failures:
        kind = text.split(": ", 2)[1] if text.count(": ") >= 2 else text
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def format_report(report: ChaosReport, measured: bool = False) -> str:
    """A fixed-width report; `measured` adds this machine's wall-clock figures (which vary run to run)."""
    facts = _totals(report)
    if report.failover is not None:
        facts += _failover_facts(report.failover, measured)
    if measured:
        facts.append(("Wall-clock time", f"{report.measured_wall_s:,.1f} s for the replay on this machine"))
    lines = [*_headline(report), "", *_phase_table(report, measured), "",
             *table_lines(_FACT_COLUMNS, facts, header=False)]
    return "\n".join(lines)


def _capacity_text(report: ChaosReport) -> str:
    capacity = report.capacity
    if capacity is None:
        return ""
    shed = capacity["shed_reads_at"]
    return (f", capacity {capacity['queries_per_s']:g} queries/s"
            + (f", reads shed above {shed:.0%}" if shed is not None else ""))


def _headline(report: ChaosReport) -> list[str]:
    spec, policy = report.spec, report.policy
    updates = dict(spec["mix"]).get("update_profile", 0) / sum(weight for _, weight in spec["mix"])
    breaker = (f"circuit breaker on (opens after {policy['failure_threshold']} failures, probes every "
               f"{policy['reset_after_ms']:,} ms)" if policy["breaker"] else "circuit breaker OFF")
    stale = policy.get("stale_if_error_ms")
    stale_text = f", stale-if-error up to {stale / 1000:g} s" if stale else ""
    return [
        f"Outage: {report.outage}, from {spec['outage_from_s']} s to {spec['outage_until_s']} s "
        f"of {spec['duration_s']} simulated seconds",
        f"Workload: {spec['actions']:,} actions (seed {spec['seed']}, {updates:.0%} status updates); "
        f"Redis: {report.backends['redis']}; database: {report.backends['database']}{_capacity_text(report)}",
        f"Policy: {breaker}, repair {'on' if policy['repair'] else 'OFF'}, "
        f"timeout {policy['timeout_ms']:,.0f} ms{stale_text}",
    ]


_PHASE_COLUMNS = (Column("phase", "<", width=7), Column("seconds", width=9), Column("requests", format=",", width=9),
                  Column("hit ratio", format=".1%"), Column("from db", format=",", width=8),
                  Column("failed", format=",", width=7), Column("db q/s", format=".1f", width=7),
                  Column("mean ms", format=".1f", width=8), Column("p50 ms", format=".1f", width=7),
                  Column("p99 ms", format=".1f", width=7))
_REAL_MS = Column("real ms", format=".3f", width=8)
# Label, then text (a label of its own or a continuation's blank), as the report's closing lines.
_FACT_COLUMNS = (Column("", "<", width=21), Column("", "<", gap=""))


def _phase_table(report: ChaosReport, measured: bool) -> list[str]:
    columns = _PHASE_COLUMNS + (_REAL_MS,) * measured
    lines = table_lines(columns, [_phase_cells(p, measured) for p in report.phases], rule="-")
    lines.append("Latencies are simulated per request (cache 1-5 ms, database 50-100 ms a call; "
                 "a timed-out call costs the whole timeout).")
    return lines


def _phase_cells(p, measured: bool) -> tuple:
    cells = (p.phase, f"{p.from_s}-{p.until_s}", p.requests, p.hit_ratio, p.fallbacks, p.failed, p.db_queries_per_s,
             p.mean_simulated_ms, p.p50_simulated_ms, p.p99_simulated_ms)
    return cells + (p.mean_measured_ms,) * measured


def _totals(report: ChaosReport) -> list[tuple[str, str]]:
    writes, audit = report.writes, report.audit
    return [
        ("Requests attempted", f"{report.requests:,}"),
        ("Failed", f"{report.failed:,}"),
        *(("", f"{at:.1f} s {text}") for at, text in report.failures[:5]),
        ("Served from database", f"{report.fallbacks:,} reads (Redis unavailable or the circuit open)"),
        ("Hit ratio recovered", _recovery_text(report)),
        ("Lost writes", f"{writes.lost:,} of {writes.messages_acknowledged:,} messages and "
                        f"{writes.status_updates_acknowledged:,} status updates acknowledged"),
        *_audit_rows(audit),
        *_stale_rows(report),
        ("Circuit breaker", _transitions_text(report.transitions)),
        ("Guard", ", ".join(f"{name.replace('_', ' ')} {value:,}" for name, value in report.guard.items())),
    ]


def _audit_rows(audit: Audit | None) -> list[tuple[str, str]]:
    if audit is None:
        return [("Stale entries", "not checked (run without the audit)")]
    stale = (f"{audit.stale:,} of {audit.checked:,} touched entries checked ({audit.from_cache:,} read from the cache"
             + (f", {audit.unchecked:,} unchecked)" if audit.unchecked else ")"))
    return [("Stale entries", stale), *(("", example) for example in audit.examples)]


def _stale_rows(report: ChaosReport) -> list[tuple[str, str]]:
    """A row on the stale answers served, if the policy served any (none, if it never could)."""
    if not report.policy.get("stale_if_error_ms"):
        return []
    ages = (f" aged p50 {report.stale_age_s(50):.1f} s, p99 {report.stale_age_s(99):.1f} s, "
            f"max {max(report.stale_ages_s):.1f} s" if report.stale_ages_s else "")
    return [("Served stale", f"{report.served_stale:,} reads, last known good copies{ages} "
                             f"(Redis and the database both failed)")]


def _failover_facts(facts: dict, measured: bool) -> list[tuple[str, str]]:
    ranges = ",".join(f"{first}-{last}" for first, last in facts["slots"])
    rows = [("Killed master", f"slots {ranges} ({facts['keys_on_victim']:,} keys), SIGKILL at the outage's "
                              f"start; its replica promoted; old master "
             + ("restarted empty after the run (rejoined as a replica)" if facts["old_master_restarted"]
                else "left down"))]
    if measured and facts["measured_failover_s"] is not None:
        rows.append(("Failover", f"{facts['measured_failover_s']:.1f} s from the kill to every slot served "
                                 f"(the outage window's requests took {facts['measured_window_replay_s']:.1f} s; "
                                 f"the replay waited for the promotion)"))
    cache = facts.get("cache_writes")
    if cache:
        plain, waited = cache["without_wait"], cache["with_wait"]
        rows.append(("Cache writes lost", f"without WAIT {plain['lost']} of {plain['acknowledged']} acknowledged "
                                          f"by the master; with WAIT 1 {waited['lost_confirmed']} of the "
                                          f"{waited['confirmed']} it confirmed ({waited['lost']} of "
                                          f"{waited['acknowledged']} acknowledged)"))
        rows.append(("", f"raw SETs, the replica cut off for the last {plain['cut_off']}, then the master "
                         f"SIGKILLed; the database keeps the workload's writes"))
    return rows


def _recovery_text(report: ChaosReport) -> str:
    steady = report.steady_hit_ratio
    share = report.spec["recovery_share"]
    window = report.spec["recovery_window_s"]
    target = f"{share:.0%} of the {steady:.1%} of the last {window} s before the outage"
    if report.recovery_s is None:
        return f"not within the run (target {target})"
    return f"{report.recovery_s:g} s after the outage ended ({window} s window at {target})"


def _transitions_text(transitions: list[tuple[float, str]]) -> str:
    """The breaker's story in one line: each failed probe (half-open, then open again) is counted, not listed."""
    if not transitions:
        return "no changes"
    events, failed_probes = [], 0
    for index, (at, state) in enumerate(transitions):
        following = transitions[index + 1][1] if index + 1 < len(transitions) else None
        if state == HALF_OPEN and following == OPEN:
            failed_probes += 1
            continue
        if state == OPEN and index and transitions[index - 1][1] == HALF_OPEN:
            continue
        if failed_probes:
            events.append(f"{failed_probes} failed probe{'s' if failed_probes > 1 else ''}")
            failed_probes = 0
        events.append(f"{state} at {at:.1f} s")
    if failed_probes:
        events.append(f"{failed_probes} failed probe{'s' if failed_probes > 1 else ''}")
    return ", ".join(events)
