"""The course's glossary: each term once, in plain words, and where the course teaches it.

    python -m whatsapp_cache course glossary     # writes notebooks/glossary.md from TERMS

The chapters link a term at its first use as `[hit ratio](glossary.md#hit-ratio)`; `anchor()` gives
the part after '#'. Each entry in the Markdown starts with an explicit `<a id="...">`, so the link
works the same in JupyterLab, on GitHub and in nbconvert's HTML, whatever each does with headings.
tests/test_glossary.py checks that the file is current and that every such link has its entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from .chapters import CHAPTERS, Chapter


@dataclass(frozen=True)
class Term:
    name: str
    definition: str
    chapter: str  # the notebook stem that teaches it

    @property
    def anchor(self) -> str:
        return anchor(self.name)


def anchor(name: str) -> str:
    """'p50 / p99' -> 'p50-p99': lower case, runs of other characters as one '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise InvalidInput(f"a glossary term needs letters or digits, got {name!r}")
    return slug


PRIMER = "00b_redis_primer"

TERMS = (
    Term("AOF", "Append-only file: Redis appends every write to a log and replays it at start. With "
         "`appendfsync always` a restart loses nothing acknowledged; the default `everysec` may lose "
         "about a second of writes if the machine (not just the process) dies.", PRIMER),
    Term("Big key", "One key holding a very large value or collection (a group of a million members): "
         "reading it moves megabytes in one reply and pins one node.", "08_scaling_out"),
    Term("Cache-aside", "The application reads the cache first; on a miss it reads the database and "
         "fills the cache itself; on a write it updates the database and deletes the cached copy. "
         "Also called lazy loading.", "02_cache_patterns"),
    Term("Circuit breaker", "After a few failed calls to Redis, stop calling it for a while and go to "
         "the database directly, so a dead cache costs one fast decision instead of a timeout per "
         "request.", "06_failure_and_recovery"),
    Term("Client-side caching", "A copy of hot values in the application's own memory, kept honest by "
         "Redis telling the client when a key it read changes (`CLIENT TRACKING`).", "03_invalidation"),
    Term("Completeness marker", "This course's `~meta` member in every cached hash, list or set: proof "
         "that the collection was filled whole from the database, so a partial one (a push onto an "
         "expired list) is never served as a hit.", "01_what_to_cache"),
    Term("Consumer group", "Readers of a Redis stream that share its entries: each entry goes to one "
         "consumer, stays pending until that consumer acknowledges it (`XACK`), and can be claimed "
         "by another if the first one dies.", "02_cache_patterns"),
    Term("Eviction", "Removing keys that have not expired because memory is full. Redis' `maxmemory-policy` "
         "chooses which (or refuses writes with `noeviction`).", "04_eviction"),
    Term("Failover", "Promoting a replica to master when the master dies. Writes the old master "
         "acknowledged but had not yet sent to the replica are lost.", "08_scaling_out"),
    Term("FIFO", "First in, first out: evict the key that was added earliest, however often it is read.",
         "04_eviction"),
    Term("Generation token", "A random value stored beside a cache entry and replaced on every write. A "
         "reader notes it before reading the database and may fill the cache only if it is unchanged, "
         "so a slow reader cannot put back a value a writer has just replaced.", "02_cache_patterns"),
    Term("Hash slot", "One of 16,384 buckets of a Redis Cluster: a key's slot is CRC16 of the key "
         "modulo 16384, and each master serves a range of slots.", PRIMER),
    Term("Hash tag", "The part of a key between the first `{` and the next `}`: only that part is "
         "hashed to choose the slot, so keys sharing a tag share a slot and one script or "
         "transaction may touch them all.", PRIMER),
    Term("Hit ratio", "Hits divided by reads: the share of reads the cache answered without the "
         "database.", "00_welcome"),
    Term("Hot key", "One key read so often that its node (or slot) carries a large share of all "
         "traffic, whatever the cluster's size.", "08_scaling_out"),
    Term("Invalidation", "Making a cached copy stop being served after the source changes: wait for "
         "its TTL, delete it on write, or tell every copy holder (pub/sub).", "03_invalidation"),
    Term("Jitter", "A random spread added to TTLs so keys filled together do not all expire in the "
         "same second.", "05_stampede"),
    Term("Lease", "A short-lived right to do one job, such as refilling a key or running a clean-up, "
         "taken with `SET key token NX PX ms`: one holder at a time, and it frees itself when it "
         "expires.", "05_stampede"),
    Term("Load shedding", "Refusing some requests at once, on purpose, when a server nears its "
         "capacity, so the ones it accepts are served in time instead of every one timing out.",
         "06_failure_and_recovery"),
    Term("LFU", "Least frequently used: evict the key read least often. Redis approximates it with a "
         "small decaying counter per key.", "04_eviction"),
    Term("LRU", "Least recently used: evict the key whose last use is oldest. Redis approximates it "
         "by sampling a few keys and evicting the oldest of the sample.", "04_eviction"),
    Term("Lua script", "A small program Redis runs on the server with `EVAL` (or `EVALSHA`, by its "
         "SHA1): it can read, decide and write, and nothing else runs while it does.", PRIMER),
    Term("Memcached", "An in-memory key-value cache server: values are bytes (up to 1 MB by default), "
         "no persistence, no replication in the server, LRU eviction.", PRIMER),
    Term("MULTI/EXEC", "A Redis transaction: commands queued after `MULTI` run together at `EXEC`, with "
         "no other client's command between them. A failing command does not undo the others.",
         PRIMER),
    Term("Namespace", "A prefix every key of one application shares (`wc:` here), so its keys can be "
         "found and deleted without touching anyone else's.", PRIMER),
    Term("Negative caching", "Caching the answer 'there is nothing', so an empty chat or an unknown id "
         "does not cost a database query on every read.", "01_what_to_cache"),
    Term("p50 / p99", "Percentiles of latency: half the requests finish within p50, 99 in 100 within "
         "p99. An average hides the slow tail that p99 shows.", "07_performance_and_capacity"),
    Term("Persistence", "Redis writing its data to disk (RDB snapshots, an AOF log, or both) so a "
         "restart can load it; without it a restarted Redis is empty.", PRIMER),
    Term("Pipeline", "Several commands sent in one write and their replies read together: one round "
         "trip instead of many. No atomicity: other clients' commands may run in between.", PRIMER),
    Term("Pub/sub", "Publish/subscribe: a message published to a channel goes to every client "
         "subscribed at that moment, and to no one else; nothing is stored for later.", PRIMER),
    Term("RDB", "Redis database file: a point-in-time snapshot of all keys (`dump.rdb`), written at "
         "save points, on `SAVE`/`BGSAVE` and at shutdown. Writes after the last snapshot are lost "
         "in a crash.", PRIMER),
    Term("Replication lag", "How far a replica is behind its master: a read from a replica may return "
         "a value the master has already replaced.", "08_scaling_out"),
    Term("Replication", "A master streams every write to its replicas, which keep a copy for reads and "
         "for failover. Redis replication is asynchronous.", "08_scaling_out"),
    Term("Round trip", "One request to a server and its reply: for a cache on another machine, the "
         "network time usually costs far more than the command itself.", PRIMER),
    Term("Stale-if-error", "Answering a read with the last value the application saw for it, up to a "
         "maximum age and marked as stale, when both the cache and the database fail it. The copy "
         "lives in the application's memory (the cache is the tier that is down); data whose old "
         "value is dangerous, such as a revoked session, is never served this way.",
         "06_failure_and_recovery"),
    Term("Stampede", "Many requests missing the same key at once (it just expired) and all querying "
         "the database for it. Also called thundering herd or dogpile.", "05_stampede"),
    Term("Stream", "A Redis log of entries with ids in time order (`XADD`, `XREADGROUP`), kept until "
         "trimmed: unlike pub/sub, a reader that was away can catch up.", "02_cache_patterns"),
    Term("TTL", "Time to live: how long until a key expires. `TTL` answers in seconds, -1 for a key "
         "with no expiry and -2 for a key that does not exist.", PRIMER),
    Term("Write-behind", "Write to the cache now and to the database later, from a queue: fast "
         "writes, at the price of a window in which the cache holds the only copy.",
         "02_cache_patterns"),
    Term("Write-through", "Every write goes to the database and then to the cache in the same request, "
         "so the cache holds the new value at once.", "02_cache_patterns"),
    Term("XFetch", "Probabilistic early expiration: each reader may refresh a key before it expires, "
         "more likely the closer the expiry and the slower the recompute, so one reader refreshes "
         "it before the herd arrives.", "05_stampede"),
    Term("Zipf skew", "Popularity that falls off as a power law: the k-th most popular key is read "
         "about 1/k^alpha as often as the first. With alpha about 1 a few keys get most reads, "
         "which is why a small cache can hit often.", "04_eviction"),
)

GLOSSARY = Path(__file__).resolve().parents[2] / "notebooks" / "glossary.md"


def find(name: str) -> Term:
    """The term called `name` (any case); InvalidInput if the glossary has no such term."""
    for term in TERMS:
        if term.name.lower() == str(name).lower():
            return term
    raise InvalidInput(f"no glossary term {name!r}")


def link(name: str, text: str | None = None) -> str:
    """A Markdown link from a notebook beside glossary.md to the term's entry."""
    return f"[{text or name}](glossary.md#{find(name).anchor})"


def render() -> str:
    """The glossary as Markdown: terms in alphabetical order, each with its anchor and its chapter."""
    lines = ["# Glossary", "",
             "*whatsapp-cache course* | [Contents](../README.md) | [00b. Redis in 20 minutes, and why Redis]"
             "(00b_redis_primer.ipynb)",
             "", "Generated by `python -m whatsapp_cache course glossary` from `whatsapp_cache/course/glossary.py`;"
             " edit the terms there.", ""]
    for term in sorted(TERMS, key=lambda t: t.name.lower()):
        chapter = _chapter(term.chapter)
        lines += [f'<a id="{term.anchor}"></a>', f"**{term.name}**: {term.definition}",
                  f"Taught in [{chapter.number}. {chapter.title}]({chapter.filename}).", ""]
    return "\n".join(lines)


def _chapter(stem: str) -> Chapter:
    return next(chapter for chapter in CHAPTERS if chapter.stem == stem)


def write(path: Path | None = None) -> Path:
    """Write the glossary (by default notebooks/glossary.md) and return where."""
    path = Path(path or GLOSSARY)
    path.write_text(render())
    return path
