"""The numbers an interview answer quotes, each computed by the library's own models and experiments.

    load_figures()      the seed's load model: hit ratio, misses, database reads and load, p50/p99
    outage_figures()    a workload through a Redis outage (chapter 06): misses, database surge, failures
    memory_figures()    the seed's fleet and its price (chapter 07), and the diminishing returns of RAM
    ...                 one function per topic; every one returns a plain dict of numbers

The drill (drill.py), the designs (designs.py) and the cheat sheet (cheatsheet.py) fill these
numbers into their text, so no figure a learner reads is typed by hand.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import logging
import math
import re
import zlib
from dataclasses import replace

from ..errors import InvalidInput
from ..experiments import capacity, loadmodel

REDIS_SLOTS = 16_384


@contextlib.contextmanager
def quiet():
    """Silence the library's operator log (circuit open/closed) while an experiment runs."""
    logger = logging.getLogger("whatsapp_cache")
    previous, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = previous


def load_figures(inputs: loadmodel.LoadInputs | None = None) -> dict:
    """The seed's load: hit ratio, database reads and load, with the cache and with it gone."""
    inputs = loadmodel.seed_inputs() if inputs is None else inputs
    r = loadmodel.evaluate(inputs)
    gone = loadmodel.evaluate(replace(inputs, hit_ratios=0.0))
    return dict(hit=r.hit_ratio, miss=1 - r.hit_ratio, miss_gone=1 - gone.hit_ratio, reads=r.reads_per_s,
                db_reads=r.db_reads_after, db_reads_gone=gone.db_reads_after,
                read_surge=gone.db_reads_after / r.db_reads_after if r.db_reads_after else math.inf,
                writes=r.writes_per_s, db_load=r.db_load_after, db_load_gone=gone.db_load_after,
                load_surge=gone.db_load_after / r.db_load_after if r.db_load_after else math.inf,
                seed_ms=r.seed_after_ms, mean_ms=r.after_mean_ms, p50_ms=r.after_p50_ms, p99_ms=r.after_p99_ms,
                mean_gone_ms=gone.after_mean_ms, before_mean_ms=r.before_mean_ms,
                db_servers=r.db_servers_after, seed_db_servers=r.seed_db_servers_after,
                seed_write_share=r.write_fraction_for_seed_servers, db_writes_per_server=r.db_writes_per_server)


def outage_figures(actions: int = 1_200, duration_s: int = 300, outage_s: tuple[int, int] = (100, 200),
                   seed: int = 0) -> dict:
    """Chapter 06's experiment, smaller: fakeredis cut off mid-workload; what the requests saw."""
    from ..experiments.chaos import ChaosSpec, FakeOutage, run_chaos
    from ..world import World

    spec = ChaosSpec(actions=actions, duration_s=duration_s, outage_from_s=outage_s[0],
                     outage_until_s=outage_s[1], seed=seed)
    with quiet():
        world = World(seed=seed)
        report = run_chaos(world, FakeOutage(world, "down"), spec)
    before, during = report.phase("before"), report.phase("during")
    policy = world.failure_policy
    writes = report.writes
    return dict(miss_before=1 - before.hit_ratio, miss_during=1 - during.hit_ratio,
                dbq_before=before.db_queries_per_s, dbq_during=during.db_queries_per_s,
                surge=during.db_queries_per_s / before.db_queries_per_s,
                mean_before_ms=before.mean_simulated_ms, mean_during_ms=during.mean_simulated_ms,
                requests=report.requests, failed=report.failed, lost=report.lost_writes, stale=report.stale,
                acknowledged=writes.messages_acknowledged + writes.status_updates_acknowledged,
                timeout_ms=policy.timeout_ms, threshold=policy.failure_threshold,
                probe_ms=policy.reset_after_ms)


def memory_figures(inputs: capacity.CapacityInputs | None = None) -> dict:
    """The seed's fleet: RAM, servers, monthly price, and Q1's RAM price beside the fleet's."""
    p = capacity.plan(inputs)
    installed_gb = p.cache_servers * p.inputs.ram_per_server_gb
    said = capacity.SEED_STATED
    return dict(data_tb=p.data_gb / capacity.GB_PER_TB, ram_tb=p.ram_tb, masters=p.masters,
                replicas=p.replicas, servers=p.cache_servers, fleet_monthly=p.cache_monthly,
                q1_monthly=said["ram_monthly"], q1_per_gb=said["ram_monthly"] / said["ram_gb"],
                fleet_per_gb=p.cache_monthly / installed_gb if installed_gb else 0.0,
                server_monthly=p.inputs.cache_server_monthly, net=p.net_savings, seed_net=p.seed_net_savings,
                db_savings_claimed=p.seed_db_savings, ram_per_master_gb=p.ram_per_master_gb)


def returns_figures(keys: int = 10_000, requests: int = 100_000, alpha: float = 1.0, seed: int = 0) -> dict:
    """Diminishing returns of RAM: the share of keys an exact LRU cache needs per hit ratio (Zipf trace)."""
    from ..eviction import workloads
    from ..eviction.curve import hit_ratio_curve

    sizes, ratios = hit_ratio_curve(workloads.zipf(keys, requests, alpha=alpha, seed=seed))
    distinct = len(sizes)

    def share_for(target: float) -> float:
        reached = ratios >= target
        return float(sizes[reached.argmax()] / distinct) if reached.any() else math.nan

    def ratio_at(share: float) -> float:
        return float(ratios[max(0, int(share * distinct) - 1)])

    return dict(alpha=alpha, keys=keys, requests=requests, distinct=distinct, share_50=share_for(0.5),
                share_70=share_for(0.7), share_90=share_for(0.9), at_10=ratio_at(0.10), at_20=ratio_at(0.20),
                at_50=ratio_at(0.50), at_100=float(ratios[-1]))


def eviction_figures(keys: int = 10_000, requests: int = 100_000, size: int = 1_000, seed: int = 0) -> dict:
    """Chapter 04's policies on one Zipf(1.0) trace, and Redis' sampled LRU by maxmemory-samples."""
    from ..eviction import workloads
    from ..eviction.simulator import simulate

    trace = workloads.zipf(keys, requests, alpha=1.0, seed=seed)
    out = {p.replace("-", "_"): simulate(trace, p, size).hit_ratio for p in ("lru", "lfu", "fifo", "redis-lfu")}
    for samples in (1, 5, 10):
        out[f"redis_lru_{samples}"] = simulate(trace, "redis-lru", size, samples=samples).hit_ratio
    return dict(out, size=size, keys=keys, share=size / keys)


def xfetch_figures(delta_ms: int = 50, left_ms: tuple[int, ...] = (200, 100, 50), beta: float = 1.0) -> dict:
    """XFetch's chance that one read recomputes early, with `left_ms` to expiry and a `delta_ms` load."""
    from ..stampede.xfetch import recompute_probability

    return dict(delta_ms=delta_ms, beta=beta,
                **{f"p_{left}": recompute_probability(delta_ms, beta, left) for left in left_ms})


def run_herds(strategies: tuple[str, ...] = ("none", "lock", "xfetch"), readers: int = 100, load_ms: int = 50,
              ttl_s: float = 0.5, expiries: int = 2) -> dict:
    """Chapter 05's herd on fakeredis, one per strategy: loads per expiry (real threads: counts vary a little)."""
    import fakeredis

    from ..stampede.herd import run_herd

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    return {name: run_herd(name, client, readers=readers, load_ms=load_ms, ttl_s=ttl_s, expiries=expiries)
            for name in strategies}


def herd_figures(herds: dict) -> dict:
    """Loads per expiry and the readers of each herd run, keyed by strategy."""
    figures = {f"{name}_per_expiry": herd.loads_per_expiry for name, herd in herds.items()}
    figures.update({f"{name}_concurrent": herd.max_concurrent_loads for name, herd in herds.items()})
    figures["readers"] = next(iter(herds.values())).readers
    return figures


def pattern_figures(operations: int = 2_000, write_share: float = 0.5, seed: int = 0) -> dict:
    """Cache-aside, write-through and write-behind on one mix (chapters 02 and 07)."""
    from ..patterns.compare import MixSpec, compare

    rows = compare(MixSpec(operations=operations, write_share=write_share, seed=seed),
                   patterns=("cache-aside", "write-through", "write-behind"))
    out = {"operations": operations, "write_share": write_share}
    for row in rows:
        name = row.pattern.replace("-", "_")
        out.update({f"{name}_hit": row.hit_ratio, f"{name}_db_writes": row.db_writes, f"{name}_writes": row.writes,
                    f"{name}_write_ms": row.avg_write_ms, f"{name}_read_ms": row.avg_read_ms,
                    f"{name}_stale": row.stale_share})
    return out


def consistency_figures(seed: int = 1) -> dict:
    """The stale-set race replayed (chapter 02), and stale reads of naive vs guarded cache-aside (chapter 03)."""
    from ..patterns.compare import MixSpec, compare
    from ..experiments.races import stale_set_race
    from ..world import World

    with World(seed=0, dataset="tiny") as world:
        _, naive_later = stale_set_race(world, "u000001", guarded=False)
        _, guarded_later = stale_set_race(world, "u000002", guarded=True)
    naive, guarded = compare(MixSpec(operations=2_000, write_share=0.3, ttl_s=300, seed=seed),
                             ["cache-aside (naive)", "cache-aside"])
    return dict(race_naive_version=naive_later.version, race_naive_value=naive_later.value,
                race_guarded_value=guarded_later.value, naive_stale=naive.stale_reads,
                naive_longest_ms=naive.longest_stale_ms, guarded_stale=guarded.stale_reads,
                guarded_longest_ms=guarded.longest_stale_ms, reads=naive.reads)


def hot_key_figures(shards: tuple[int, ...] = (1, 64)) -> dict:
    """Presence (every heartbeat) as one sorted set vs sharded by user id, on 3 masters (chapter 08)."""
    from ..db import dataset
    from ..lab.distribution import presence_balance

    small = dataset.generate("small")
    out = {}
    for count in shards:
        per_master = presence_balance(small, shards=count).per_master
        out[f"max_share_{count}"] = max(per_master) / sum(per_master)
        out[f"per_master_{count}"] = " / ".join(f"{n:,}" for n in per_master)
    return out


def stored_lab(name: str) -> str:
    """A result chapter 08 measured on real redis-server processes and stored (data/lab_results.json)."""
    from ..lab.stored import stored

    text = stored(name)
    if text is None:
        raise InvalidInput(f"no stored lab result named {name!r}")
    return text


def lab_figures() -> dict:
    """Chapter 08's stored measurements: lost acknowledged writes without and with WAIT (one replica, and
    WAIT 1 with two), the big group."""
    lost = re.search(r"(\d+) writes acknowledged, (\d+) lost", stored_lab("lost writes, no WAIT"))
    waited = re.search(r"WAIT 1 confirmed (\d+): lost among those (\d+)", stored_lab("lost writes, WAIT 1"))
    two = re.search(r"lost (\d+) writes, (\d+) of them confirmed by WAIT", stored_lab("WAIT 1, two replicas"))
    group = re.findall(r"members sent ([\d,]+) / ([\d,]+) / ([\d,]+)", stored_lab("big group"))
    one_set = [int(n.replace(",", "")) for n in group[0]]
    split = [int(n.replace(",", "")) for n in group[1]]
    return dict(lab_acknowledged=int(lost[1]), lab_lost=int(lost[2]), lab_confirmed=int(waited[1]),
                lab_lost_confirmed=int(waited[2]), two_replicas_lost=int(two[1]), two_replicas_lost_confirmed=int(two[2]),
                big_one_max_share=max(one_set) / sum(one_set),
                big_split_max_share=max(split) / sum(split))


def penetration_figures(distinct: int = 50, repeats: int = 20) -> dict:
    """Reads of user ids that do not exist: database queries with the library's negative caching."""
    from ..errors import NotFound
    from ..world import World

    with World(seed=0, dataset="tiny") as world:
        for _ in range(repeats):
            for n in range(distinct):
                with contextlib.suppress(NotFound):
                    world.profiles.get(f"u9{n:05d}")
        queries = sum(record.db_queries for record in world.metrics.log)
        negative_ttl_s = world.ttls.negative
    return dict(distinct=distinct, repeats=repeats, reads=distinct * repeats, queries=queries,
                negative_ttl_s=negative_ttl_s)


def bloom_filter(items: float, false_positive: float) -> dict:
    """An optimal Bloom filter: bits per item -ln(p)/ln(2)^2, hash functions (m/n) ln 2, total size."""
    if not items > 0 or not 0 < false_positive < 1:
        raise InvalidInput("a Bloom filter needs items > 0 and a false-positive rate between 0 and 1")
    bits_per_item = -math.log(false_positive) / math.log(2) ** 2
    return dict(items=items, false_positive=false_positive, bits_per_item=bits_per_item,
                hashes=max(1, round(bits_per_item * math.log(2))), megabytes=items * bits_per_item / 8 / 1e6)


def round_trip_figures() -> dict:
    """Round trips counted on the wire (chapter 07): a structure-aware question in one round trip."""
    from ..experiments.claims import BATCH, measure
    from ..world import World

    names = {"contacts": "contacts' online status (online_among of a user's contacts)",
             "miss": "profiles.get (miss)", "hit": "profiles.get (hit)",
             "batch": f"profiles.get_many({BATCH}) (misses)", "one_by_one": f"profiles.get one by one x{BATCH} (misses)"}
    with World(seed=0, namespace="wire") as world:
        out = {label: measure(world, operation).counted for label, operation in names.items()}
    return dict(out, batch_size=BATCH)


def _crc(key: str) -> int:
    return zlib.crc32(key.encode())


def _ring(nodes: int, vnodes: int) -> tuple[list[int], list[int]]:
    """A consistent-hash ring: `vnodes` points per node, sorted (MD5 of "node#i")."""
    points = sorted((int(hashlib.md5(f"node{n}#{v}".encode()).hexdigest()[:8], 16), n)
                    for n in range(nodes) for v in range(vnodes))
    return [p for p, _ in points], [n for _, n in points]


def _ring_owner(ring: tuple[list[int], list[int]], key: str) -> int:
    positions, owners = ring
    point = int(hashlib.md5(key.encode()).hexdigest()[:8], 16)
    return owners[bisect.bisect(positions, point) % len(owners)]


def _slot_owner_after(slot: int, nodes: int) -> int:
    """Slots after adding master `nodes`: each old master hands the top of its range to the new one."""
    from ..lab.distribution import even_split, master_index

    ranges = even_split(nodes)
    owner = master_index(slot, ranges)
    first, last = ranges[owner]
    give = (last - first + 1) // (nodes + 1)
    return nodes if slot > last - give else owner


def moved_shares(keys: list[str], nodes: int = 3, vnodes: int = 100) -> dict:
    """The share of keys that change node when a cluster of `nodes` gains one: modulo, ring, hash slots."""
    from redis.crc import key_slot

    from ..lab.distribution import even_split, master_index

    if not keys or nodes < 1:
        raise InvalidInput("moved_shares needs keys and at least one node")
    before, after = _ring(nodes, vnodes), _ring(nodes + 1, vnodes)
    ranges = even_split(nodes)
    slots = [key_slot(k.encode()) for k in keys]
    modulo = sum(_crc(k) % nodes != _crc(k) % (nodes + 1) for k in keys)
    ring = sum(_ring_owner(before, k) != _ring_owner(after, k) for k in keys)
    slot_moves = sum(master_index(s, ranges) != _slot_owner_after(s, nodes) for s in slots)
    return dict(keys=len(keys), nodes=nodes, modulo=modulo / len(keys), ring=ring / len(keys),
                slots=slot_moves / len(keys), ideal=1 / (nodes + 1))


def hashing_figures(nodes: int = 3) -> dict:
    """moved_shares over every key of the small data set (the keys chapter 08 places)."""
    from ..db import dataset
    from ..lab.distribution import dataset_keys, slot_balance

    small = dataset.generate("small")
    keys = [key for group in dataset_keys(small).values() for key in group]
    return dict(moved_shares(keys, nodes), balance=slot_balance(small, nodes).ratio)


def warm_figures(actions: int = 1_000, duration_s: int = 1_800) -> dict:
    """The same actions on a cold cache (empty, as after a restart without persistence) and then warm."""
    from ..experiments.workload import WorkloadSpec, run
    from ..world import World

    spec = WorkloadSpec(actions=actions, duration_s=duration_s, seed=0)
    with World(seed=0) as world:
        cold = run(world, spec)[-1]
        cold_reads, cold_hits, cold_queries = cold.reads, cold.hits, cold.db_queries
        both = run(world, spec)[-1]  # the summary counts both replays
    warm_reads = both.reads - cold_reads
    headroom = capacity.plan(capacity.CapacityInputs(usable_fraction=0.75))
    return dict(actions=actions, cold_hit=cold_hits / cold_reads, warm_hit=(both.hits - cold_hits) / warm_reads,
                cold_queries=cold_queries, warm_queries=both.db_queries - cold_queries,
                masters_headroom=headroom.masters, servers_headroom=headroom.cache_servers,
                monthly_headroom=headroom.cache_monthly)


def fleet_figures() -> dict:
    """Local caches on 3 servers, one cut off pub/sub for a minute: invalidations vs a local TTL alone."""
    from ..invalidation.fleet import FleetSpec, compare_fleet

    pubsub, ttl_only = compare_fleet(FleetSpec(seed=0), ["pub/sub", "local TTL only"])
    return dict(pubsub_stale=pubsub.stale_share, pubsub_longest_s=pubsub.longest_stale_ms / 1000,
                ttl_stale=ttl_only.stale_share, ttl_longest_s=ttl_only.longest_stale_ms / 1000,
                local_ttl_s=FleetSpec().local_ttl_s)


def remote_cache_figures(cache_ms: tuple[float, float] = (60.0, 80.0)) -> dict:
    """The seed's load model with the cache in another region: a hit costs a cross-region round trip."""
    local = loadmodel.evaluate(loadmodel.seed_inputs())
    remote = loadmodel.evaluate(replace(loadmodel.seed_inputs(), cache_ms=cache_ms))
    return dict(local_mean_ms=local.after_mean_ms, remote_mean_ms=remote.after_mean_ms,
                remote_p50_ms=remote.after_p50_ms, cross_low_ms=cache_ms[0], cross_high_ms=cache_ms[1],
                db_mean_ms=local.before_mean_ms)


def sizing_figures(usable_fraction: float = 0.75, ops_per_master: float = 100_000) -> dict:
    """The seed's fleet re-planned with fork headroom, and the operations each master then serves."""
    seed_plan = capacity.plan()
    safe = capacity.plan(capacity.CapacityInputs(usable_fraction=usable_fraction))
    load = loadmodel.evaluate(loadmodel.seed_inputs())
    per_master = (load.reads_per_s + load.writes_per_s) / safe.masters
    return dict(masters=seed_plan.masters, servers=seed_plan.cache_servers, usable=usable_fraction,
                safe_masters=safe.masters, safe_servers=safe.cache_servers, safe_monthly=safe.cache_monthly,
                ops_per_master=per_master, ops_budget=ops_per_master, ram_tb=safe.ram_tb,
                per_master_gb=safe.ram_per_master_gb)
