"""Distribution over a Redis Cluster: slot and memory balance of the data set, a big hot key, and remedies.

    every key the library writes --> CRC16(hash tag) mod 16384 --> slot --> master owning it
    slot_balance(dataset)            keys per master for an even split (pure, no server)
    memory_balance(lab, dataset)     the same keys written with realistic payloads: MEMORY USAGE, INFO memory
    big_group_load(lab, shards=1)    one group of 100,000 members read by every fan-out: one master does it all
    big_group_load(lab, shards=32)   the set split into {gid#0} .. {gid#31}: read with one pipeline per node
    presence_balance(dataset)        the presence sorted set is one key, so one slot; sharded by user id

A hash tag keeps an entity's keys in one slot (good: one script, one round trip); the price is that one
entity can never be spread. That is the big-key problem, and the only remedy is to split the entity.
"""

from __future__ import annotations

import contextlib
import json
import hashlib
from collections import Counter
from dataclasses import dataclass

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from ..db.dataset import Dataset
from ..errors import InvalidInput
from ..keys import KeySchema
from .cluster import SLOTS, LocalCluster
from .process import HOST

KINDS = ("session", "profile", "recent", "group", "presence")
RECENT = 100  # the library caches the last 100 messages of a conversation


def even_split(masters: int = 3) -> tuple[tuple[int, int], ...]:
    """Slot ranges of `masters` masters sharing 16384 slots evenly (3: 0-5460, 5461-10921, 10922-16383)."""
    if isinstance(masters, bool) or not isinstance(masters, int) or not 1 <= masters <= SLOTS:
        raise InvalidInput(f"masters must be a whole number from 1 to {SLOTS}, got {masters!r}")
    return tuple((i * SLOTS // masters, (i + 1) * SLOTS // masters - 1) for i in range(masters))


def master_index(slot: int, ranges: tuple[tuple[int, int], ...]) -> int:
    """Which range (master) holds a slot."""
    return next(i for i, (first, last) in enumerate(ranges) if first <= slot <= last)


def _slot(key: str) -> int:
    return key_slot(key.encode())


def _schema(schema: object) -> KeySchema:
    if not isinstance(schema, KeySchema):
        raise InvalidInput(f"schema must be a KeySchema, got {schema!r}")
    return schema


def _dataset(dataset: object) -> Dataset:
    if not isinstance(dataset, Dataset):
        raise InvalidInput(f"expected a Dataset (whatsapp_cache.db.dataset.generate()), got {dataset!r}")
    return dataset


def dataset_keys(dataset: Dataset, schema: KeySchema = KeySchema()) -> dict[str, list[str]]:
    """The data key of every cached entity of the data set, by kind (each generation counter shares its slot)."""
    dataset, schema = _dataset(dataset), _schema(schema)
    t = dataset.tables
    return {"session": [schema.session(s["token_hash"]).data for s in t["sessions"]],
            "profile": [schema.profile(u["id"]).data for u in t["users"]],
            "recent": [schema.recent_messages(c["id"]).data for c in t["conversations"]],
            "group": [schema.group_members(g["id"]).data for g in t["chat_groups"]],
            "presence": [schema.presence()]}


# --- slot balance (pure) ------------------------------------------------------------------------

@dataclass(frozen=True)
class SlotBalance:
    """Keys per master, by kind, for one slot split."""

    ranges: tuple[tuple[int, int], ...]
    per_master: tuple[dict[str, int], ...]  # one {kind: keys} per master
    distinct_slots: int

    def totals(self) -> tuple[int, ...]:
        return tuple(sum(kinds.values()) for kinds in self.per_master)

    @property
    def ratio(self) -> float:
        """max / min keys per master (1.0 is perfect)."""
        totals = self.totals()
        return max(totals) / max(1, min(totals))

    def describe(self) -> str:
        lines = [f"{sum(self.totals())} keys in {self.distinct_slots} slots over {len(self.ranges)} masters "
                 f"(max/min {self.ratio:.3f})"]
        for (first, last), kinds, total in zip(self.ranges, self.per_master, self.totals()):
            detail = ", ".join(f"{kind} {kinds.get(kind, 0)}" for kind in KINDS)
            lines.append(f"  slots {first:>5}-{last:<5}: {total:>6} keys ({detail})")
        return "\n".join(lines)


def slot_balance(dataset: Dataset, masters: int = 3, schema: KeySchema = KeySchema()) -> SlotBalance:
    """Where every key of the data set lands for an even split over `masters` masters."""
    ranges = even_split(masters)
    per_master = [Counter() for _ in ranges]
    slots = set()
    for kind, keys in dataset_keys(dataset, schema).items():
        for key in keys:
            slot = _slot(key)
            slots.add(slot)
            per_master[master_index(slot, ranges)][kind] += 1
    return SlotBalance(ranges, tuple(dict(c) for c in per_master), len(slots))


# --- memory balance (live) ----------------------------------------------------------------------

def _lab(lab: object) -> LocalCluster:
    if not isinstance(lab, LocalCluster) or lab.dir is None:
        raise InvalidInput(f"expected a started LocalCluster, got {lab!r}")
    return lab


def _client(lab: LocalCluster) -> RedisCluster:
    nodes = [ClusterNode(host, port) for host, port in lab.startup_nodes if port in lab.live_ports()]
    return RedisCluster(startup_nodes=nodes, decode_responses=True, socket_timeout=10)


def _direct(port: int) -> redis.Redis:
    return redis.Redis(HOST, port, decode_responses=True, socket_timeout=10)


def _masters(lab: LocalCluster) -> list:
    return sorted((n for n in _lab(lab).nodes() if n.role == "master" and n.alive and n.slots), key=lambda n: n.slots)


def payloads(dataset: Dataset, schema: KeySchema = KeySchema()) -> dict[str, list[tuple[str, object]]]:
    """Each key with a value shaped like what the library caches: JSON strings, a list, sets, a sorted set."""
    t = _dataset(dataset).tables
    schema = _schema(schema)
    recent: dict[str, list[str]] = {}
    for m in t["messages"]:
        recent.setdefault(m["conversation_id"], []).append(json.dumps(m, separators=(",", ":")))
    members: dict[str, list[str]] = {}
    for m in t["group_members"]:
        members.setdefault(m["group_id"], []).append(m["user_id"])
    session = [(schema.session(s["token_hash"]).data, json.dumps({"user_id": s["user_id"], "device": s["device"],
                                                                  "expires_ms": s["expires_ms"]})) for s in t["sessions"]]
    profile = [(schema.profile(u["id"]).data, json.dumps(u, separators=(",", ":"))) for u in t["users"]]
    return {"session": session, "profile": profile,
            "recent": [(schema.recent_messages(cid).data, rows[-RECENT:]) for cid, rows in recent.items()],
            "group": [(schema.group_members(gid).data, ids) for gid, ids in members.items()],
            "presence": [(schema.presence(), {u["id"]: u["updated_ms"] for u in t["users"]})]}


def load_payloads(lab: LocalCluster, dataset: Dataset, schema: KeySchema = KeySchema()) -> int:
    """Write every payload through a cluster pipeline (grouped per node); return the keys written."""
    written = 0
    with contextlib.closing(_client(_lab(lab))) as client:
        pipe = client.pipeline(transaction=False)
        for kind, entries in payloads(dataset, schema).items():
            for key, value in entries:
                _queue_write(pipe, kind, key, value)
                written += 1
        pipe.execute()
    return written


def _queue_write(pipe, kind: str, key: str, value) -> None:
    if kind == "recent":
        pipe.rpush(key, *value)
    elif kind == "group":
        pipe.sadd(key, *value)
    elif kind == "presence":
        pipe.zadd(key, value)
    else:
        pipe.set(key, value)


@dataclass(frozen=True)
class MemoryBalance:
    """Per master: keys, the sum of MEMORY USAGE of the loaded keys, and INFO memory's growth."""

    rows: tuple[tuple[int, int, int, int], ...]  # (port, keys, MEMORY USAGE bytes, used_memory growth bytes)

    @property
    def ratio(self) -> float:
        """max / min MEMORY USAGE per master."""
        usage = [row[2] for row in self.rows]
        return max(usage) / max(1, min(usage))

    def describe(self) -> str:
        lines = [f"memory per master after loading the data set (max/min MEMORY USAGE {self.ratio:.3f})"]
        lines += [f"  master {port}: {keys:>6} keys, MEMORY USAGE {usage / 1024:>8.1f} KiB, "
                  f"used_memory +{grown / 1024:.1f} KiB" for port, keys, usage, grown in self.rows]
        return "\n".join(lines)


def memory_balance(lab: LocalCluster, dataset: Dataset, schema: KeySchema = KeySchema()) -> MemoryBalance:
    """Load the data set's payloads into the cluster and measure memory on each master."""
    dataset, masters = _dataset(dataset), _masters(lab)
    before = {m.port: _used_memory(m.port) for m in masters}
    load_payloads(lab, dataset, schema)
    usage = Counter()
    keys = Counter()
    with contextlib.closing(_client(lab)) as client:
        names = [key for entries in payloads(dataset, schema).values() for key, _ in entries]
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name, samples=0)  # 0: every element, not a sample
        for name, size in zip(names, pipe.execute()):
            port = client.get_node_from_key(name).port
            usage[port] += size or 0
            keys[port] += 1
    return MemoryBalance(tuple((m.port, keys[m.port], usage[m.port], _used_memory(m.port) - before[m.port])
                               for m in masters))


def _used_memory(port: int) -> int:
    with _direct(port) as client:
        return int(client.info("memory")["used_memory"])


# --- the big, hot group -------------------------------------------------------------------------

def shard_keys(group_id: str, shards: int, schema: KeySchema = KeySchema()) -> list[str]:
    """The member-set keys of a group split `shards` ways: one hash tag each ({gid#0} ...), so any slot."""
    shards = _shards(shards)
    if shards == 1:
        return [_schema(schema).group_members(group_id).data]
    return [schema.group_members(f"{group_id}#{i}").data for i in range(shards)]


def _shards(shards: object) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 1024:
        raise InvalidInput(f"shards must be a whole number from 1 to 1024, got {shards!r}")
    return shards


def shard_of(member: str, shards: int) -> int:
    """The sub-set a member belongs to, stable across processes (unlike hash()).

    BLAKE2b, not CRC32: a CRC is linear, so ids differing only in a few digits fall into a few shards.
    """
    return int.from_bytes(hashlib.blake2b(member.encode(), digest_size=8).digest(), "big") % shards


def add_members(client: RedisCluster, group_id: str, members: list[str], shards: int = 1,
                schema: KeySchema = KeySchema()) -> None:
    """SADD members into the group's set (or sub-sets), 10,000 per command, in one cluster pipeline."""
    keys = shard_keys(group_id, shards, schema)
    split: dict[str, list[str]] = {}
    for member in members:
        split.setdefault(keys[shard_of(member, shards)], []).append(member)
    pipe = client.pipeline(transaction=False)
    for key, ids in split.items():
        for start in range(0, len(ids), 10_000):
            pipe.sadd(key, *ids[start:start + 10_000])
    pipe.execute()


def read_members(client: RedisCluster, group_id: str, shards: int = 1, schema: KeySchema = KeySchema()) -> set[str]:
    """Every member: SMEMBERS of each sub-set, sent as one pipeline (one round trip per node holding one)."""
    pipe = client.pipeline(transaction=False)
    for key in shard_keys(group_id, shards, schema):
        pipe.smembers(key)
    return set().union(*pipe.execute())


@dataclass(frozen=True)
class HotKeyLoad:
    """One big group read by every fan-out: per master, its share of memory, SMEMBERS calls and members sent."""

    group_id: str
    members: int
    shards: int
    reads: int
    rows: tuple[tuple[int, int, int, int], ...]  # (port, MEMORY USAGE bytes, SMEMBERS calls, members sent)

    @property
    def ratio(self) -> float:
        """max / min members sent per master (inf when some master sends none)."""
        sent = [row[3] for row in self.rows]
        return max(sent) / min(sent) if min(sent) else float("inf")

    def describe(self) -> str:
        layout = "one set" if self.shards == 1 else f"{self.shards} sub-sets"
        lines = [f"group {self.group_id} with {self.members:,} members as {layout}, read {self.reads} times "
                 f"(max/min members sent per master {self.ratio:.2f})"]
        lines += [f"  master {port}: {usage / 2**20:6.2f} MiB, {calls:>4} SMEMBERS, {sent:>9,} members sent"
                  for port, usage, calls, sent in self.rows]
        return "\n".join(lines)


def big_group_load(lab: LocalCluster, members: int = 100_000, shards: int = 1, reads: int = 10,
                   group_id: str = "g99999", schema: KeySchema = KeySchema()) -> HotKeyLoad:
    """Store a group of `members` members (split `shards` ways), read it `reads` times, measure per master."""
    if isinstance(members, bool) or not isinstance(members, int) or not 1 <= members <= 10_000_000:
        raise InvalidInput(f"members must be a whole number from 1 to 10,000,000, got {members!r}")
    if isinstance(reads, bool) or not isinstance(reads, int) or not 1 <= reads <= 10_000:
        raise InvalidInput(f"reads must be a whole number from 1 to 10,000, got {reads!r}")
    keys = shard_keys(group_id, shards, schema)
    masters = _masters(lab)
    with contextlib.closing(_client(lab)) as client:
        for key in keys:
            client.delete(key)
        add_members(client, group_id, [f"u{i:07d}" for i in range(members)], shards, schema)
        before = {m.port: _calls(m.port, "smembers") for m in masters}
        for _ in range(reads):
            read_members(client, group_id, shards, schema)
        usage, sent = Counter(), Counter()
        for key in keys:
            port = client.get_node_from_key(key).port
            usage[port] += client.memory_usage(key, samples=0) or 0
            sent[port] += client.scard(key) * reads
    rows = tuple((m.port, usage[m.port], _calls(m.port, "smembers") - before[m.port], sent[m.port]) for m in masters)
    return HotKeyLoad(group_id, members, shards, reads, rows)


def _calls(port: int, command: str) -> int:
    with _direct(port) as client:
        return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


# --- presence: one sorted set, one slot ---------------------------------------------------------

def presence_key(user_id: str, shards: int = 1, schema: KeySchema = KeySchema()) -> str:
    """The presence sorted set holding a user: the library's single key, or one of `shards` by user id."""
    shards = _shards(shards)
    key = _schema(schema).presence()
    return key if shards == 1 else key.replace("{presence}", f"{{presence#{shard_of(user_id, shards)}}}")


@dataclass(frozen=True)
class PresenceBalance:
    """Users' presence entries per master, for the single key and for a sharded one."""

    shards: int
    per_master: tuple[int, ...]
    keys: int

    def describe(self) -> str:
        layout = "one sorted set (one slot)" if self.shards == 1 else f"{self.shards} sorted sets by user id"
        counts = ", ".join(str(count) for count in self.per_master)
        return f"presence as {layout}: entries per master {counts} ({self.keys} key{'s' * (self.keys != 1)})"


def presence_balance(dataset: Dataset, shards: int = 1, masters: int = 3,
                     schema: KeySchema = KeySchema()) -> PresenceBalance:
    """Where each user's presence entry (and every heartbeat updating it) lands."""
    ranges = even_split(masters)
    per_master = [0] * len(ranges)
    keys = set()
    for user in _dataset(dataset).tables["users"]:
        key = presence_key(user["id"], shards, schema)
        keys.add(key)
        per_master[master_index(_slot(key), ranges)] += 1
    return PresenceBalance(_shards(shards), tuple(per_master), len(keys))
