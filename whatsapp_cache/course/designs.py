"""Two "design the cache for X" exercises worked with the library's calculators, and the closing section.

    feed_figures(FeedInputs())        a news feed: fan-out on write vs read, memory, fleet, hit ratio
    leaderboard_figures(BoardInputs()) a game leaderboard: one sorted set, a hot key, the rebuild
    missing_figures()                  the seed's "What's still missing", in chapter 07's models

Every input is a named field with its default stated, so a learner can change one and recompute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InvalidInput
from ..experiments import capacity, loadmodel
from .drill import Answer, fill

SECONDS_PER_DAY = 86_400
TEMPLATE_STEPS = ("access patterns", "what to cache", "key schema", "structure and TTL", "pattern",
                  "invalidation", "eviction", "sizing", "failure modes", "what to monitor")


def _positive(inputs) -> None:
    for name, value in vars(inputs).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InvalidInput(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class FeedInputs:
    """A news feed; each default is an assumption stated for the exercise, not a measurement."""

    daily_users: float = 100_000_000
    feed_reads_per_user_day: float = 20
    posts_per_user_day: float = 0.5
    peak_factor: float = 3
    sample_users: int = 50_000
    mean_followers: int = 200
    celebrity_followers: int = 5_000  # in the sample; the hybrid pulls these authors' posts at read time
    feed_length: int = 500
    bytes_per_feed_entry: int = 16
    post_bytes: int = 1_000
    hot_post_days: float = 2
    post_cache_share: float = 0.10
    ram_per_server_gb: float = 128
    usable_fraction: float = 0.75

    def __post_init__(self) -> None:
        _positive(self)
        if not self.post_cache_share <= 1 or not self.usable_fraction <= 1:
            raise InvalidInput("post_cache_share and usable_fraction are fractions up to 1")


def follower_counts(users: int, mean_followers: int, seed: int = 0) -> np.ndarray:
    """Followers per author when every follow picks its author with Zipf(1.0) popularity."""
    from ..eviction import workloads

    edges = workloads.zipf(users, users * mean_followers, alpha=1.0, seed=seed)
    return np.bincount(edges, minlength=users)


def feed_figures(inputs: FeedInputs = FeedInputs()) -> dict:
    """The feed design's numbers: rates, fan-out with and without celebrities, memory, fleet, post hits."""
    from ..eviction import workloads
    from ..eviction.simulator import simulate

    i = inputs
    followers = follower_counts(i.sample_users, i.mean_followers)
    celebrities = followers >= i.celebrity_followers
    pushed_share = float(1 - followers[celebrities].sum() / followers.sum())
    reads = i.daily_users * i.feed_reads_per_user_day / SECONDS_PER_DAY * i.peak_factor
    posts = i.daily_users * i.posts_per_user_day / SECONDS_PER_DAY * i.peak_factor
    feeds_gb = i.daily_users * i.feed_length * i.bytes_per_feed_entry / 1e9
    posts_gb = i.daily_users * i.posts_per_user_day * i.hot_post_days * i.post_bytes / 1e9
    plan = capacity.plan(capacity.CapacityInputs(
        data_gb={"feeds": feeds_gb, "posts": posts_gb * i.post_cache_share}, ram_per_server_gb=i.ram_per_server_gb,
        usable_fraction=i.usable_fraction, replicas_per_master=1))
    trace = workloads.zipf(10_000, 100_000, alpha=1.0, seed=0)
    post_hit = simulate(trace, "lru", int(10_000 * i.post_cache_share)).hit_ratio
    post_reads = reads * 10  # a feed page shows ten posts
    load = loadmodel.evaluate(replace(loadmodel.seed_inputs(), hit_ratios=post_hit, reads_per_s=post_reads,
                                      writes_per_s=posts))
    return dict(reads=reads, posts=posts, inserts_push=posts * i.mean_followers,
                inserts_hybrid=posts * i.mean_followers * pushed_share, pushed_share=pushed_share,
                celebrities=int(celebrities.sum()), sample_users=i.sample_users, top_followers=int(followers.max()),
                mean_followers=i.mean_followers, celebrity_followers=i.celebrity_followers, feeds_gb=feeds_gb,
                posts_gb=posts_gb, cached_posts_gb=posts_gb * i.post_cache_share, post_cache_share=i.post_cache_share,
                post_hit=post_hit, post_reads=post_reads, db_post_reads=load.db_reads_after, p50_ms=load.after_p50_ms,
                p99_ms=load.after_p99_ms, masters=plan.masters, servers=plan.cache_servers,
                monthly=plan.cache_monthly, ram_gb=plan.ram_gb, ram_per_server_gb=i.ram_per_server_gb,
                feed_length=i.feed_length, peak_factor=i.peak_factor, usable=i.usable_fraction)


def feed_answer(inputs: FeedInputs = FeedInputs()) -> Answer:
    return fill("Design the cache for a news feed", r"""
- **Access patterns.** {reads:,.0f} feed reads/s and {posts:,.0f} posts/s at peak ({peak_factor:g}x the daily mean): reads dominate.
- **What to cache.** Each user's feed as a list of post ids (the last {feed_length}), the post objects, the social graph's
follower lists for fan-out; never the whole history.
- **Key schema.** `feed:{{u42}}` (a list or a sorted set by time), `post:{{p9}}` (a hash), `followers:{{u7}}#n` for big accounts.
- **Structure and TTL.** Feeds: a capped sorted set, trimmed on insert, TTL a few days for inactive users (rebuilt on return);
posts: hash with TTL 1 h plus jitter, counters (likes) kept apart and written behind.
- **Pattern.** Fan-out on write: a post is pushed into every follower's feed. With follows drawn Zipf(1.0) over
{sample_users:,} users ({mean_followers} followers on average, the top author {top_followers:,}), pushing everything costs
{inserts_push:,.0f} inserts/s; pulling the {celebrities} authors with at least {celebrity_followers:,} followers at read time
instead (the hybrid) leaves **{inserts_hybrid:,.0f} inserts/s**, {pushed_share:.0%} of the work.
- **Invalidation.** Feeds are append-only; a deleted post is filtered at read (its `post:` key deleted, a tombstone kept).
- **Eviction.** `allkeys-lru`: a feed of a user who stopped coming is the first to go, and is rebuilt by a pull.
- **Sizing.** Feeds {feeds_gb:,.0f} GB; posts of {hot_post_days_note} {posts_gb:,.0f} GB, of which the hot {post_cache_share:.0%} ({cached_posts_gb:,.0f} GB)
hit **{post_hit:.1%}** on a Zipf(1.0) trace; with a 20% buffer, {ram_per_server_gb:g} GB servers at {usable:.0%} usable and one replica:
**{masters} masters, {servers} servers, \${monthly:,.0f} a month**.
The {post_reads:,.0f} post reads/s leave {db_post_reads:,.0f}/s to the database; p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms (seed's tiers).
- **Failure modes.** A celebrity's post is a hot key (local cache, replicated copies); a lost shard means rebuilding feeds by pull
(rate-limited, or it is a herd); fan-out workers fall behind (a queue, and feeds that are eventually complete).
- **What to monitor.** Hit ratio per key type, p99 of a feed read, fan-out queue lag, evictions/s, memory per shard, the hottest keys.
""", {**feed_figures(inputs), "hot_post_days_note": f"the last {inputs.hot_post_days:g} days"})


@dataclass(frozen=True)
class BoardInputs:
    """A global game leaderboard; each default is an assumption stated for the exercise."""

    players: float = 10_000_000
    score_updates_per_s: float = 50_000
    top_reads_per_s: float = 100_000
    rank_reads_per_s: float = 20_000
    bytes_per_member: float = 100  # a sorted-set entry with a short member; measure with MEMORY USAGE
    ops_per_shard: float = 100_000
    app_servers: int = 200
    local_ttl_s: float = 1
    rebuild_per_s: float = 500_000  # pipelined ZADDs a node takes while rebuilding from the database
    ram_per_server_gb: float = 16

    def __post_init__(self) -> None:
        _positive(self)


def leaderboard_figures(inputs: BoardInputs = BoardInputs()) -> dict:
    """The leaderboard design's numbers: memory, operations on the one key, what a local cache saves, rebuild."""
    i = inputs
    memory_gb = i.players * i.bytes_per_member / 1e9
    on_key = i.score_updates_per_s + i.top_reads_per_s + i.rank_reads_per_s
    top_to_redis = i.app_servers / i.local_ttl_s
    with_local = i.score_updates_per_s + i.rank_reads_per_s + top_to_redis
    plan = capacity.plan(capacity.CapacityInputs(data_gb={"board": memory_gb}, ram_per_server_gb=i.ram_per_server_gb,
                                                 usable_fraction=0.75, replicas_per_master=1))
    return dict(players=i.players, memory_gb=memory_gb, on_key=on_key, budget=i.ops_per_shard,
                over_budget=on_key / i.ops_per_shard, top_reads=i.top_reads_per_s, top_to_redis=top_to_redis,
                with_local=with_local, local_share=with_local / i.ops_per_shard, app_servers=i.app_servers,
                local_ttl_s=i.local_ttl_s, rebuild_s=i.players / i.rebuild_per_s, updates=i.score_updates_per_s,
                ranks=i.rank_reads_per_s, masters=plan.masters, servers=plan.cache_servers, monthly=plan.cache_monthly,
                bytes_per_member=i.bytes_per_member)


def leaderboard_answer(inputs: BoardInputs = BoardInputs()) -> Answer:
    return fill("Design the cache for a game leaderboard", r"""
- **Access patterns.** {updates:,.0f} score updates/s, {top_reads:,.0f} reads/s of the top 100, {ranks:,.0f} "what is my rank" reads/s.
- **What to cache.** The ranking itself, kept in Redis; scores stay in the database (the source of truth).
- **Key schema.** `board:{{season42}}` one sorted set per season and region; `board:{{season42}}:top` the rendered top 100.
- **Structure and TTL.** A sorted set: `ZADD GT` keeps the best score, `ZREVRANGE 0 99` the top, `ZREVRANK` a rank, all O(log N);
no TTL on the live board (it is derived state, rebuilt if lost); the season's board expires after the season.
- **Pattern.** Write-through on each score (database, then `ZADD`), the top 100 cache-aside in every app server's memory.
- **Invalidation.** None for the board (updated in place); the local top 100 lives {local_ttl_s:g} s, so it is at most that stale.
- **Eviction.** `noeviction` on the board's node: an evicted leaderboard is a wrong answer, not a miss.
- **Sizing.** {players:,.0f} players x {bytes_per_member:.0f} B = **{memory_gb:.1f} GB**: one {ram_per_server_gb_note} master
and a replica ({masters} master, {servers} servers, \${monthly:,.0f} a month). Memory is not the problem; the key is.
- **Failure modes.** The board is one key, so one shard takes **{on_key:,.0f} operations/s**, {over_budget:.1f}x a {budget:,.0f}/s budget.
Serving the top 100 from a {local_ttl_s:g} s local cache on {app_servers} app servers turns {top_reads:,.0f} reads/s into {top_to_redis:,.0f},
and the key's load into {with_local:,.0f}/s ({local_share:.0%} of the budget). Beyond that, split by region or shard the set
by player and merge the shards' top 100s. Losing the node means a rebuild from the database: about {rebuild_s:.0f} s of pipelined `ZADD`s.
- **What to monitor.** Operations/s and CPU of the board's shard, p99 of `ZADD`, replication lag, the top 100's age, memory of the key.
""", {**leaderboard_figures(inputs), "ram_per_server_gb_note": f"{inputs.ram_per_server_gb:g} GB"})


RUBRIC = (
    "Asks about the access pattern and the numbers (reads/s, writes/s, size) before choosing anything.",
    "Names what is **not** cached, and says which store is the source of truth.",
    "Gives a key schema with hash tags where keys must live together, and a data structure that answers the question in one round trip.",
    "Picks TTLs per type with a reason, and jitter for many keys filled at once.",
    "Chooses a pattern (cache-aside, write-through, write-behind) and says what each costs when it goes wrong.",
    "Has an invalidation story for every write path, and knows the stale-set race.",
    "Sizes memory from the working set and throughput per shard, and checks the hottest shard, not the average.",
    "Walks through failures: a shard lost, the whole cache lost (what the database then takes), a hot key, a herd.",
    "Names what to monitor: hit ratio per type, p50/p99, evictions, memory, replication lag, hot keys.",
)


def measured_coalescing() -> float:
    """Chapter 07's measurement: the share of writes write-behind sends to the database on its mix."""
    from ..patterns.compare import MixSpec, compare

    row = compare(MixSpec(operations=2_000, write_share=0.5), patterns=("write-behind",))[0]
    return row.db_writes / row.writes


def missing_figures(seed_coalesced: float | None = None, reads_per_replica: float = 10_000, phones: float = 100_000_000,
                    poll_s: float = 10, media_share: float = 0.05, media_bytes: float = 200_000) -> dict:
    """The seed's "What's still missing" in chapter 07's models; the keyword arguments are stated assumptions."""
    seed_coalesced = measured_coalescing() if seed_coalesced is None else seed_coalesced
    inputs = loadmodel.seed_inputs()
    r = loadmodel.evaluate(inputs)
    merged = loadmodel.evaluate(replace(inputs, write_fraction_to_db=seed_coalesced))
    gone = loadmodel.evaluate(replace(inputs, hit_ratios=0.0))
    plan = capacity.plan()
    media_rate = r.writes_per_s * media_share * media_bytes
    return dict(writes=r.writes_per_s, per_server=r.db_writes_per_server, shards=r.db_servers_after,
                seed_shards=r.seed_db_servers_after, coalesced=seed_coalesced, shards_merged=merged.db_servers_after,
                db_reads=r.db_reads_after, replicas=loadmodel.servers_needed(r.db_reads_after, reads_per_replica),
                replicas_gone=loadmodel.servers_needed(gone.db_reads_after, reads_per_replica),
                reads_per_replica=reads_per_replica, db_reads_gone=gone.db_reads_after,
                phones=phones, poll_s=poll_s, polls=phones / poll_s, media_share=media_share,
                media_kb=media_bytes / 1_000, media_gb_s=media_rate / 1e9, ram_tb=plan.ram_tb,
                fill_minutes=plan.ram_gb * 1e9 / media_rate / 60)


def missing_answer() -> Answer:
    numbers = missing_figures()
    return Answer("What's still missing", fill("", r"""
- **The database is still a single point of failure.** With the cache it still takes {db_reads:,.0f} reads/s and every write;
  if it stops, writes stop; and if the cache stops, the database must take {db_reads_gone:,.0f} reads/s.
  Next: a primary with synchronous standbys and automatic failover, per shard.
- **{writes:,.0f} writes/s need sharding.** At {per_server:,.0f} writes/s per server that is **{shards} shards**, not the seed's
  {seed_shards} (a read cache removes no writes); write-behind coalescing as measured in chapter 07 ({coalesced:.0%} of the
  writes reach the database) would make it {shards_merged}. Messages are rows of their own, so shard by conversation id.
- **Reads from replicas.** The {db_reads:,.0f} misses/s at an assumed {reads_per_replica:,.0f} reads/s per replica need
  **{replicas} replicas**, and {replicas_gone} while the cache is down; replicas lag, so read your own writes from the primary.
- **Push instead of poll.** {phones:,.0f} phones polling every {poll_s:g} s are {polls:,.0f} requests/s that mostly find nothing;
  a long-lived connection (WebSocket) per phone and a push per message turns that into the {writes:,.0f} deliveries/s that
  carry news, and presence into connection state.
- **Media.** If {media_share:.0%} of the writes were {media_kb:.0f} KB photos, that is {media_gb_s:.1f} GB/s: it would fill the
  whole {ram_tb:g} TB cache in **{fill_minutes:.0f} minutes**. Media belongs in object storage behind a CDN, with only its
  metadata in the cache.
""", numbers).markdown, numbers, collapsed=False)
