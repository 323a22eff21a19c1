"""The interview drill: model answers as Markdown templates, their numbers filled in by the library.

    answer = drill.seed_q2()          # computes the figures (figures.py), fills the template
    answer                            # in a notebook: a collapsed <details> block, rendered Markdown
    answer.markdown                   # the filled text; answer.numbers: the figures it quotes

Templates use str.format fields ({db_reads:,.0f}); a literal dollar sign is written \\$ (Markdown's
escape), and the notebook's rendering doubles the backslash: JupyterLab 4.6 turns a single `\\$` back
into a bare `$` before MathJax pairs two of them into LaTeX (jupyterlab/jupyterlab#8645).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import figures

EVICTION_DOCS = "https://redis.io/docs/latest/develop/reference/eviction/"
WAIT_DOCS = "https://redis.io/docs/latest/commands/wait/"
PERSISTENCE_DOCS = "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/"
CLUSTER_DOCS = "https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/"


@dataclass(frozen=True)
class Answer:
    """A question, its model answer with the numbers filled in, and the numbers themselves."""

    question: str
    markdown: str
    numbers: dict = field(repr=False, default_factory=dict)
    collapsed: bool = True

    def _repr_markdown_(self) -> str:
        text = for_jupyterlab(self.markdown)
        if not self.collapsed:
            return text
        return f"<details><summary>Model answer</summary>\n\n{text}\n\n</details>"

    def __repr__(self) -> str:
        return self.markdown


def for_jupyterlab(markdown: str) -> str:
    """Markdown with each escaped dollar (`\\$`) escaped twice, as JupyterLab's math splitter needs."""
    return re.sub(r"(?<!\\)\\\$", r"\\\\$", markdown)


def money(amount: float) -> str:
    """An amount of dollars for Markdown: the sign first, the dollar escaped (two bare ones read as LaTeX)."""
    return f"{'-' if amount < 0 else ''}\\${abs(amount):,.0f}"


def fill(question: str, template: str, numbers: dict) -> Answer:
    """The template with every {field} taken from `numbers` (a missing one raises KeyError)."""
    return Answer(question, template.strip().format_map(numbers), dict(numbers))


SEED_QUESTIONS = {
    "q1": "Why not cache everything?",
    "q2": "What happens if Redis crashes?",
    "q3": "Cache vs Database - which is source of truth?",
    "q4": "How do you handle cache stampede?",
}


def seed_q1() -> Answer:
    numbers = {**figures.memory_figures(), **figures.returns_figures()}
    numbers.update(net_text=money(numbers["net"]), seed_net_text=money(numbers["seed_net"]))
    return fill(SEED_QUESTIONS["q1"], r"""
"Because RAM costs money and its returns diminish fast.
The seed's own plan holds {data_tb:g} TB of data in {ram_tb:g} TB of RAM: {masters} masters and {replicas} replicas,
{servers} servers at \${server_monthly:,.0f}, so **\${fleet_monthly:,.0f} a month**.
(The seed's answer says \${q1_monthly:,.0f}: it prices RAM at \${q1_per_gb:.2f}/GB, ten times its own
server price of \${fleet_per_gb:.2f}/GB installed; and with writes untouched, the fleet makes the net saving
{net_text}, or {seed_net_text} even if we grant the seed's 14 database servers.)
Popularity is skewed: on a Zipf({alpha:.1f}) trace an LRU cache holding **{share_50:.1%}** of the keys already
hits 50%, {share_70:.1%} hits 70%, but 90% needs {share_90:.1%}.
Going from 10% to 20% of the keys buys {at_10:.1%} -> {at_20:.1%}; the cold tail costs as much RAM and earns almost nothing.
And every cached copy is one more thing to invalidate, so I cache what is read often and changes rarely,
size the cache from the hit-ratio curve, and let eviction keep the rest out."
""", numbers)


def seed_q2(outage: dict | None = None) -> Answer:
    numbers = {**figures.load_figures(), **(outage or figures.outage_figures())}
    return fill(SEED_QUESTIONS["q2"], r"""
"Misses go from **{miss:.0%} to {miss_gone:.0%}**, so the database's reads go from {db_reads:,.0f}/s to
**{db_reads_gone:,.0f}/s: {read_surge:.0f} times**; with the {writes:,.0f} writes/s it never stopped taking, its load goes
{db_load:,.0f} -> {db_load_gone:,.0f}/s ({load_surge:.1f}x), and the mean read {mean_ms:.0f} -> {mean_gone_ms:.0f} ms.
So 'the database handles it' is only true if it is sized for that, or if we shed load.
'Slower but functional' also has to be built: I give every Redis call a short timeout ({timeout_ms:.0f} ms here),
open a circuit breaker after {threshold} failures in a row so requests stop waiting for a dead Redis, probe every
{probe_ms:,} ms, and drop entries whose writes were missed when Redis comes back.
Measured in the course, a workload with Redis cut off mid-run: misses {miss_before:.0%} -> {miss_during:.0%},
database queries {dbq_before:.1f} -> {dbq_during:.1f}/s ({surge:.1f}x), **{failed} of {requests:,} requests failed**,
{lost} acknowledged writes lost, {stale} stale entries afterwards.
For prevention: replicas with automatic failover (Sentinel or Cluster), and a cache that warms back up."
""", numbers)


def seed_q3(outage: dict | None = None) -> Answer:
    numbers = {**(outage or figures.outage_figures()), **figures.lab_figures()}
    return fill(SEED_QUESTIONS["q3"], r"""
"The database, always. Every write is committed there first; the cache holds a copy that may be dropped at any
time and is rebuilt from the database on the next miss.
Redis replicates asynchronously, so it can lose writes it acknowledged: in the course's cluster lab a master was
killed after acknowledging {lab_acknowledged} writes and the promoted replica lacked **{lab_lost}** of them.
That is harmless for a copy (a lost entry is a miss) and fatal for the only copy.
With the database as the source of truth, the course's outage run ended with {lost} of {acknowledged} acknowledged
writes lost and {stale} stale entries.
Write-behind bends the rule: there Redis holds the only copy of a write for a while, so it needs a durable
queue (a stream with acknowledgements), and `WAIT` to know which writes a replica has."
""", numbers)


def seed_q4(herds: dict) -> Answer:
    numbers = {**figures.herd_figures(herds), **figures.xfetch_figures()}
    return fill(SEED_QUESTIONS["q4"], r"""
"A stampede is many readers missing one hot key at the same moment and all querying the database.
In the course's herd, {readers} readers on one key, a 50 ms load: with no protection the database took
**{none_per_expiry:.1f} loads per expiry**. Three fixes, each for a different case:
jittered TTLs spread the expiries of *many* keys but cannot help one hot key;
a lock (`SET NX PX` with a random token, compare-and-delete release, bounded wait, then serve stale) made it
**{lock_per_expiry:.1f} loads per expiry**; XFetch recomputes *before* expiry with probability
exp(-left / (delta x beta)): with a {delta_ms} ms load, a read 200 ms before expiry recomputes with {p_200:.1%},
100 ms before with {p_100:.1%}, so one reader refreshes early and nobody waits:
**{xfetch_per_expiry:.1f} loads per expiry**, at most {xfetch_concurrent} at a time.
The seed's lock is never released and its waiter may return nothing; its flat 10% early refresh ignores the load's cost."
""", numbers)


# --- Thirteen more questions interviewers ask --------------------------------------------------------

def patterns() -> Answer:
    return fill("Cache-aside, write-through or write-behind: which, and when?", r"""
"Cache-aside reads the cache, loads on a miss and deletes on write: simple, only caches what is read, but every
write makes the next read a miss. Write-through writes the database and then the cache, so reads after writes hit;
write-behind writes the cache and queues the database write.
On the course's mix ({operations:,} operations, {write_share:.0%} writes): hit ratio cache-aside {cache_aside_hit:.1%},
write-through {write_through_hit:.1%}, write-behind {write_behind_hit:.1%};
a write costs {write_through_write_ms:.0f} ms through the database but **{write_behind_write_ms:.0f} ms** behind it, and
write-behind's coalescing sent only **{write_behind_db_writes:,} of {write_behind_writes:,}** writes to the database.
The price is durability: until the worker applies it, the write lives only in Redis, so it needs a durable queue
(a stream with a consumer group, acknowledged after commit) and version checks.
I default to cache-aside, use write-through for data read right after it is written (a new message), and
write-behind only for data I can afford to lose or reorder safely (presence, counters)."
""", figures.pattern_figures())


def consistency() -> Answer:
    return fill("How do you keep the cache consistent with the database?", r"""
"Write the database first, then **delete** the key rather than update it: two writers updating the cache can land
in the opposite order to their commits, a delete cannot. Deleting still leaves the stale-set race:
a reader misses, reads the old row, a writer commits and deletes, then the reader writes its old row back.
Replayed in the course, the naive reader left version {race_naive_version} ({race_naive_value!r}) cached after the write;
with a generation token claimed before the query and checked by an atomic fill (the stale-set half of Facebook's
memcache leases; their other half, making a second reader wait, is what a lock adds) the later read returned
{race_guarded_value!r}.
Over a mix with 30% writes: **{naive_stale} stale reads, longest {naive_longest_ms:,} ms**, naive, against
**{guarded_stale}, longest {guarded_longest_ms} ms** guarded, out of {reads:,} reads.
When many services write the table, I drive invalidation from the database's change stream (CDC, e.g. Debezium
reading the WAL) so no writer can forget, and keep a TTL as the safety net."
""", figures.consistency_figures())


def herd() -> Answer:
    return fill("What is a thundering herd, and what is request coalescing?", r"""
"A herd is many requests doing the same expensive work at once because a shared result vanished: a hot key
expiring, a cold cache after a restart, a retry storm. Coalescing (single flight) makes the concurrent requests
for one key share one load: in-process with a per-key future, across servers with a short Redis lock
(`SET NX PX` plus a random token), the waiters polling for a bounded time and then serving stale.
Better still is not expiring at all under load: XFetch refreshes early with probability exp(-left / (delta x beta));
with a {delta_ms} ms load the chance per read is {p_200:.2%} at 200 ms left, {p_100:.1%} at 100 ms and {p_50:.1%} at 50 ms,
so a key read thousands of times a second is refreshed once, before it expires.
For retries: exponential backoff with jitter, and a circuit breaker so a dead dependency is not hammered."
""", figures.xfetch_figures())


def hot_keys() -> Answer:
    return fill("How do you handle hot keys and big keys?", r"""
"A key lives in one slot on one master, so one hot key or one huge key makes one shard the bottleneck, however
many shards there are. Presence as one sorted set put {per_master_1} entries on the three masters:
**{max_share_1:.0%}** of every heartbeat on one of them; sharded into 64 keys by user id: {per_master_64}
(the busiest {max_share_64:.0%}). A 100,000-member group as one set sent {big_one_max_share:.0%} of its members from one master;
as 32 sub-sets the busiest sent {big_split_max_share:.0%}.
So: split big keys into sub-keys with their own hash tags (read them with one pipeline per master), spread hot
*read* keys with a small local cache (a second or two of TTL) or several replicated copies (`key#1..n`),
find them with `redis-cli --hotkeys` (LFU policy) and `--bigkeys`, and delete big keys with `UNLINK`."
""", {**figures.hot_key_figures(), **figures.lab_figures()})


def penetration() -> Answer:
    numbers = {**figures.penetration_figures(), **{f"bloom_{k}": v for k, v in figures.bloom_filter(1e9, 0.01).items()}}
    return fill("What is cache penetration, and how do you stop it?", r"""
"Requests for keys that do not exist: the cache never holds them, so every one goes to the database, which makes
it an easy attack. First, cache the *absence*: the library fills 'no such user' with its own short TTL
({negative_ttl_s} s). In the course, {reads:,} reads of {distinct} unknown ids cost **{queries} database queries**,
one per id, not {reads:,}.
That does not help against *random* ids, each new; there a Bloom filter of the ids that exist answers 'certainly not'
without asking anyone: at a 1% false-positive rate it needs {bloom_bits_per_item:.1f} bits and {bloom_hashes} hash
functions per id, about **{bloom_megabytes:,.0f} MB for a billion ids**. It must be updated on insert, and since it
cannot delete, rebuilt now and then. Validate ids at the edge and rate-limit too."
""", numbers)


def redis_vs_memcached() -> Answer:
    return fill("Redis or Memcached?", r"""
"Memcached is a multithreaded key-value cache of opaque values: simple, fast, easy to scale across cores, no
persistence and no replication built in. Redis has data structures, which change the number of round trips:
'which of my contacts are online' is one `ZMSCORE` on a sorted set, **{contacts} round trip**, counted in the
course; a profile hit costs {hit} round trip, a miss {miss} (read, generation claim, atomic fill), and
{batch_size} profiles cost **{batch}** round trips pipelined instead of {one_by_one} one by one.
Redis also gives TTLs per key, Lua scripts for atomic read-modify-write (the fills and locks here), streams for
write-behind, pub/sub for invalidation, replication, persistence and Cluster.
I pick Memcached for a plain, huge, multi-core look-aside cache of blobs, Redis when the cache needs structure,
atomicity or to survive a restart."
""", figures.round_trip_figures())


def eviction() -> Answer:
    return fill("Which eviction policy, and how does Redis implement LRU?", rf"""
"Eviction decides who leaves when memory is full. On a Zipf(1.0) trace with a cache of {{share:.0%}} of the keys,
exact LRU hit {{lru:.1%}}, LFU **{{lfu:.1%}}**, FIFO {{fifo:.1%}}: LFU keeps the steady favourites, LRU adapts when
popularity shifts and survives scans worse. Redis approximates both ({EVICTION_DOCS}): it keeps no LRU list but
samples `maxmemory-samples` keys per eviction (default 5) into a pool of candidates; modelled on the same trace,
1 sample hits {{redis_lru_1:.1%}}, 5 samples **{{redis_lru_5:.1%}}**, 10 samples {{redis_lru_10:.1%}};
its LFU uses an 8-bit logarithmic counter that decays ({{redis_lfu:.1%}}).
For a cache I use `allkeys-lru` or `allkeys-lfu`; `volatile-*` only evicts keys with a TTL, and `noeviction`
makes writes fail when full, right for a store, wrong for a cache."
""", figures.eviction_figures())


def hashing() -> Answer:
    return fill("Consistent hashing or Redis hash slots?", rf"""
"Both avoid `hash(key) mod N`, which moves almost every key when N changes: adding a 4th node to 3 moved
**{{modulo:.0%}}** of the course's {{keys:,}} keys. A consistent-hash ring (100 virtual nodes each) moved {{ring:.1%}},
close to the ideal {{ideal:.0%}}. Redis Cluster ({CLUSTER_DOCS}) hashes each key to one of 16,384 slots (CRC16)
and assigns slots to masters explicitly; handing a quarter of the slots to the new master moved {{slots:.1%}},
and slots are migrated live, key by key, with clients redirected (`MOVED`, `ASK`).
Slots also give hash tags: `{{{{user42}}}}` puts all of a user's keys in one slot, so a script or `MULTI` can touch them
together. Keys spread evenly: the data set's max/min per master is {{balance:.2f}}.
Client-side rings (Memcached, Twemproxy) need no server cooperation; slots need a cluster-aware client."
""", figures.hashing_figures())


def replication() -> Answer:
    return fill("Replication lag: can Redis lose a write it acknowledged?", rf"""
"Yes. Replication is asynchronous: the master acknowledges, then streams the write. In the course's cluster lab,
the master acknowledged {{lab_acknowledged}} writes while its replica was cut off, was killed, and the promoted replica
lacked **{{lab_lost}}** of them. `WAIT 1 <timeout>` blocks until a replica has a write, but it is best effort
({WAIT_DOCS}): it does not make Redis strongly consistent. What it gives is knowledge of how many replicas
had a write when it returned. With one replica that is enough: of the {{lab_confirmed}} writes WAIT confirmed,
**{{lab_lost_confirmed}}** were lost. With two it is not: `WAIT 1` returns once either replica has the write, and
Sentinel may promote the other; in the lab it did, and **{{two_replicas_lost_confirmed}}** of the {{two_replicas_lost}}
lost writes had been confirmed. Counting every replica (`WAIT 2` there) means whichever is promoted has a
confirmed write, at the price of stalling writes while any replica lags. Reads from replicas can be stale for the
same reason: the lab held a replica's stream and read the old value. For a cache that is fine (the database has
everything); a write-behind update lives only in Redis until the worker stores it, so I confirm it to the user
after `WAIT` counts every replica (or write it through when it must not be lost), and I read my own writes from
the master."
""", figures.lab_figures())


def persistence() -> Answer:
    return fill("Persistence and warm restart: should a cache persist?", rf"""
"A cache that restarts empty sends every read to the database until it refills: replaying {{actions:,}} actions
on a cold cache hit {{cold_hit:.1%}} and cost {{cold_queries:,}} queries, the same actions on the cache they warmed hit
**{{warm_hit:.2%}}** with {{warm_queries:,}}. After a crash that is a herd of its own.
Redis offers RDB snapshots (a forked child writes the dataset) and an append-only file, fsync'd every second by default
({PERSISTENCE_DOCS}); either lets a node restart warm, but fork's copy-on-write can need much extra RAM under
writes, so do not give `maxmemory` the whole box: keeping a quarter free turns the seed's plan into
**{{masters_headroom}} masters, {{servers_headroom}} servers, \${{monthly_headroom:,.0f}} a month**.
Replicas are the usual warm standby; persistence on a replica keeps the cost off the master.
And warm restarts raise the stale-data question: entries written before the crash may have missed invalidations."
""", figures.warm_figures())


def multi_region() -> Answer:
    numbers = {**figures.remote_cache_figures(), **figures.fleet_figures()}
    return fill("How do you cache across regions?", r"""
"A cache must be near its readers: in the seed's model a hit costs 1-5 ms and the mean read {local_mean_ms:.0f} ms;
if the cache sits in another region ({cross_low_ms:.0f}-{cross_high_ms:.0f} ms away) the mean becomes
**{remote_mean_ms:.0f} ms**, worse than the {db_mean_ms:.0f} ms database. So each region gets its own cache,
filled from a local read replica, and the question becomes invalidation across regions.
I publish invalidations from the writing region (or from CDC on the primary) to every region, and give every
copy a TTL as the safety net for messages that are lost. The course's fleet of local caches shows the trade:
with invalidations, {pubsub_stale:.1%} of reads stale (longest {pubsub_longest_s:.0f} s, during a cut-off);
with the {local_ttl_s} s TTL alone, **{ttl_stale:.1%}**.
Writes go to the home region of the data; users are pinned to a region so they read their own writes."
""", numbers)


def sizing() -> Answer:
    numbers = {**figures.sizing_figures(), **figures.returns_figures(), **figures.load_figures()}
    return fill("How do you size a cache fleet?", r"""
"From two sides, and take the larger. Memory: the working set, not everything; the hit-ratio curve says how much:
on a Zipf(1.0) trace {share_70:.1%} of the keys give 70% hits. Plus overhead per key, fragmentation and fork
headroom: the seed's {ram_tb:g} TB at {usable:.0%} of each 512 GB usable is **{safe_masters} masters** ({per_master_gb:.0f} GB each)
instead of {masters}, and **{safe_servers} servers** with 2 replicas each (\${safe_monthly:,.0f} a month).
Throughput: the seed's {reads:,.0f} reads/s and {writes:,.0f} writes/s (one invalidation each) over {safe_masters} masters are
**{ops_per_master:,.0f} operations/s per master**, well inside the ~{ops_budget:,.0f}/s I would budget for one
Redis thread, so memory decides here. Then check the hot shard, not the average (hot keys), the network per node,
and what the database takes if a shard or the whole cache is lost."
""", numbers)


def latency() -> Answer:
    return fill("What is the latency of a cached read?", r"""
"Not one number: a cached read is two populations. With the seed's tiers (cache 1-5 ms, database 50-100 ms) and 80%
hits the mean is {mean_ms:.0f} ms (the seed's worst-case arithmetic says {seed_ms:.0f}), but the median is
**{p50_ms:.1f} ms** and p99 **{p99_ms:.1f} ms**: almost no request takes the mean.
So I report p50 (what a hit costs) and p99 (what a miss costs) and the hit ratio, and I watch p99.
A fan-out request that touches many keys is as slow as its slowest key, so it sees the tail far more often."
""", figures.load_figures())


MORE_QUESTIONS = (patterns, consistency, herd, hot_keys, penetration, redis_vs_memcached, eviction, hashing,
                  replication, persistence, multi_region, sizing, latency)
