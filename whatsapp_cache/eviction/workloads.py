"""Seeded key traces for eviction experiments, and a plain text format to save and load them.

Every generator returns a numpy int64 array of key ids, the same for the same arguments:

    zipf       bounded Zipf(alpha) over `keys` keys (alpha 0 = uniform); hot ids are scattered
    uniform    every key equally likely
    hotspot    `hot_share` of requests go to a `hot_fraction` of the keys, uniformly within each set
    scan       sequential sweeps 0, 1, ..., keys-1, 0, 1, ... from a seeded start
    shifting_zipf  Zipf traffic whose popularity is reshuffled at `shift_at` (a share of the trace):
               the hot keys before are ordinary keys after, and a new set is hot
    scan_mix   Zipf traffic, with a sequential scan of `scan_length` keys after every `scan_every`
               requests: the scans flood an LRU cache with keys used once
    whatsapp_mix  keys of the synthetic data set (sessions, presence, recent messages, profiles,
               group members) in the WHATSAPP_MIX proportions; ids index `whatsapp_keys(dataset)`,
               the key names, which save_trace(trace, path, names=...) writes instead of the ids

save_trace and load_trace write and read trace files: one key per line, or CSV.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from numbers import Real
from pathlib import Path

import numpy as np

from ..db.repository import group_conversation_id
from ..errors import InvalidInput
from ..keys import KeySchema
from ..validation import whole_number

MAX_KEYS = 50_000_000
MAX_REQUESTS = 100_000_000
MAX_ALPHA = 10.0
# Request kinds of whatsapp_mix, their shares, and what picks the entity each request reads.
WHATSAPP_MIX = (
    ("session", 0.30),  # every app open authenticates: users by activity (messages sent + 1)
    ("presence", 0.20),  # is my contact online: a contact of a user drawn by activity
    ("recent_messages", 0.25),  # open a chat: conversations by message count + 1
    ("profile", 0.15),  # view a profile: users by how many contact lists hold them + 1
    ("group_members", 0.10),  # fan-out or member list: groups by their messages + 1
)
_DIGITS = re.compile(r"[0-9]+")


def zipf(keys: int, requests: int, alpha: float = 1.0, seed: int = 0) -> np.ndarray:
    """Key ids drawn from a bounded Zipf: rank r has weight 1/r**alpha; ranks map to ids by a seeded shuffle."""
    keys, requests, alpha, seed = _keys(keys), _requests(requests), _alpha(alpha), _seed(seed)
    rng = np.random.default_rng(seed)
    return rng.permutation(keys)[_zipf_ranks(rng, keys, requests, alpha)]


def uniform(keys: int, requests: int, seed: int = 0) -> np.ndarray:
    """Key ids drawn uniformly from 0..keys-1."""
    keys, requests, seed = _keys(keys), _requests(requests), _seed(seed)
    return np.random.default_rng(seed).integers(0, keys, size=requests, dtype=np.int64)


def hotspot(keys: int, requests: int, hot_fraction: float = 0.2, hot_share: float = 0.8, seed: int = 0) -> np.ndarray:
    """A `hot_share` of requests on a seeded `hot_fraction` of the keys, the rest on the others."""
    keys, requests, seed = _keys(keys, low=2), _requests(requests), _seed(seed)
    hot_fraction = _real(hot_fraction, "hot_fraction", 0.0, 1.0, open_low=True, open_high=True)
    hot_share = _real(hot_share, "hot_share", 0.0, 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(keys)
    hot = min(max(round(hot_fraction * keys), 1), keys - 1)
    is_hot = rng.random(requests) < hot_share
    picks = np.where(is_hot, rng.integers(0, hot, size=requests), rng.integers(hot, keys, size=requests))
    return order[picks]


def scan(keys: int, requests: int, seed: int = 0) -> np.ndarray:
    """Sequential sweeps over all ids, 0 after keys-1, starting at a seeded id."""
    keys, requests, seed = _keys(keys), _requests(requests), _seed(seed)
    start = int(np.random.default_rng(seed).integers(0, keys))
    return (start + np.arange(requests, dtype=np.int64)) % keys


def scan_mix(keys: int, requests: int, alpha: float = 1.0, scan_every: int = 10_000, scan_length: int = 2_000,
             seed: int = 0) -> np.ndarray:
    """Zipf traffic interrupted by sequential scans: `scan_every` Zipf requests, then `scan_length` scanned ids.

    Successive scans continue where the last one stopped, so together they sweep the whole key space.
    """
    keys, requests, alpha, seed = _keys(keys), _requests(requests), _alpha(alpha), _seed(seed)
    scan_every = whole_number(scan_every, "scan_every", 1, MAX_REQUESTS)
    scan_length = whole_number(scan_length, "scan_length", 1, MAX_REQUESTS)
    position = np.arange(requests, dtype=np.int64) % (scan_every + scan_length)
    scanning = position >= scan_every
    trace = zipf(keys, requests, alpha, seed)
    start = int(np.random.default_rng(seed + 1).integers(0, keys))
    trace[scanning] = (start + np.arange(int(scanning.sum()), dtype=np.int64)) % keys
    return trace


def shifting_zipf(keys: int, requests: int, alpha: float = 1.0, shift_at: float = 0.5, seed: int = 0) -> np.ndarray:
    """Zipf traffic whose ranks map to new ids from `shift_at` of the way through (a seeded second shuffle).

    Before and after the shift the traffic is the same Zipf; only which keys are popular changes, as
    when yesterday's busy group chats go quiet and others take over.
    """
    keys, requests, alpha, seed = _keys(keys), _requests(requests), _alpha(alpha), _seed(seed)
    shift_at = _real(shift_at, "shift_at", 0.0, 1.0)
    rng = np.random.default_rng(seed)
    before, after = rng.permutation(keys), rng.permutation(keys)
    ranks = _zipf_ranks(rng, keys, requests, alpha)
    shifted = np.arange(requests) >= int(round(shift_at * requests))
    return np.where(shifted, after[ranks], before[ranks])


def whatsapp_keys(dataset) -> list[str]:
    """Key names of the data set's cacheable entities; a whatsapp_mix id indexes this list.

    In order: every user's session, every user's presence, every conversation's recent messages,
    every user's profile, every group's member set. Names follow `whatsapp_cache.keys.KeySchema`;
    presence is one key per user (`wc:presence:{<user>}`), as a per-user presence cache would hold
    it, where the library's Presence keeps one sorted set that a trace would see as a single key.
    """
    tables = _tables(dataset)
    schema = KeySchema()
    users = [row["id"] for row in tables["users"]]
    digest = {row["user_id"]: row["token_hash"] for row in tables["sessions"]}
    return ([schema.session(digest[user]).data for user in users]
            + [f"{schema.namespace}:presence:{{{user}}}" for user in users]
            + [schema.recent_messages(row["id"]).data for row in tables["conversations"]]
            + [schema.profile(user).data for user in users]
            + [schema.group_members(row["id"]).data for row in tables["chat_groups"]])


def whatsapp_mix(dataset, requests: int, seed: int = 0) -> np.ndarray:
    """Int key ids (indexes into `whatsapp_keys(dataset)`) of a WhatsApp-like read mix; see WHATSAPP_MIX."""
    tables = _tables(dataset)
    requests, seed = _requests(requests), _seed(seed)
    users = {row["id"]: i for i, row in enumerate(tables["users"])}
    chats = {row["id"]: i for i, row in enumerate(tables["conversations"])}
    groups = [row["id"] for row in tables["chat_groups"]]
    if not users or not chats or not groups:
        raise InvalidInput("the data set needs users, conversations and groups for whatsapp_mix")
    sent, listed, said = np.ones(len(users)), np.ones(len(users)), np.ones(len(chats))
    for row in tables["messages"]:
        sent[users[row["sender_id"]]] += 1
        said[chats[row["conversation_id"]]] += 1
    contacts: list[list[int]] = [[] for _ in users]
    for row in tables["contacts"]:
        listed[users[row["contact_id"]]] += 1
        contacts[users[row["owner_id"]]].append(users[row["contact_id"]])
    in_group = np.array([said[chats[group_conversation_id(g)]] if group_conversation_id(g) in chats else 1.0
                         for g in groups])

    rng = np.random.default_rng(seed)

    def draw(weights: np.ndarray, count: int) -> np.ndarray:
        return rng.choice(weights.size, size=count, p=weights / weights.sum())

    pickers = (lambda n: draw(sent, n),  # the order of WHATSAPP_MIX
               lambda n: _contact_of(rng, draw(sent, n), contacts),
               lambda n: draw(said, n),
               lambda n: draw(listed, n),
               lambda n: draw(in_group, n))
    offsets = np.cumsum([0, len(users), len(users), len(chats), len(users)])
    kinds = rng.choice(len(WHATSAPP_MIX), size=requests, p=[share for _, share in WHATSAPP_MIX])
    trace = np.empty(requests, dtype=np.int64)
    for kind, (picker, offset) in enumerate(zip(pickers, offsets)):
        chosen = kinds == kind
        trace[chosen] = offset + picker(int(chosen.sum()))
    return trace


def save_trace(trace, path: str | Path, names: Sequence[str] | None = None) -> Path:
    """Write one key per line after a comment header; with `names`, each id is written as names[id].

    A name of digits only reads back as that int.
    """
    keys = _trace(trace)
    path = Path(path)
    if names is not None:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise InvalidInput("names must be a sequence of strings, one per key id")
        if keys.size and keys.max() >= len(names):
            raise InvalidInput(f"trace holds id {int(keys.max())} but names has only {len(names)} entries")
        for name in {names[i] for i in np.unique(keys).tolist()}:
            if not isinstance(name, str) or not name or name.startswith("#") or any(c.isspace() for c in name):
                raise InvalidInput(f"key names must be non-empty strings without whitespace or a leading '#', "
                                   f"got {name!r}")
        lines = [names[i] for i in keys.tolist()]
    else:
        lines = [str(i) for i in keys.tolist()]
    header = f"# whatsapp_cache key trace: {len(lines)} requests, one key per line\n"
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(header)
        handle.write("\n".join(lines))
        handle.write("\n" if lines else "")
    return path


def load_trace(path: str | Path, *, with_names: bool = False):
    """Read a trace file (text, or CSV by suffix): int64 ids, and with `with_names` the string->id map too.

    One key per line; lines starting with '#' are comments and blank lines are skipped. A key of
    digits is that int; any other key is a string, mapped to an int in first-seen order after the
    largest int key of the file. A `.csv` file has a header row and the key in its first column.
    Keys must not contain whitespace.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read trace file {path}: {exc}") from exc
    numbered = _lines_csv(raw, path) if path.suffix.lower() == ".csv" else _lines_text(raw, path)
    trace, mapping = _to_ids(numbered, path)
    return (trace, mapping) if with_names else trace


WORKLOADS = {"zipf": zipf, "uniform": uniform, "hotspot": hotspot, "scan": scan, "scan_mix": scan_mix,
             "shifting_zipf": shifting_zipf, "whatsapp_mix": whatsapp_mix}


def _zipf_ranks(rng: np.random.Generator, keys: int, requests: int, alpha: float) -> np.ndarray:
    """Inverse-CDF sampling: the first rank whose cumulative weight exceeds a uniform draw."""
    cdf = np.cumsum(np.arange(1, keys + 1, dtype=np.float64) ** -alpha)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(requests), side="right"), keys - 1)


def _contact_of(rng: np.random.Generator, askers: np.ndarray, contacts: list[list[int]]) -> np.ndarray:
    """One contact of each asker, uniformly; an asker without contacts asks about themselves."""
    degree = np.array([len(row) for row in contacts], dtype=np.int64)
    start = np.cumsum(degree) - degree
    flat = np.array([c for row in contacts for c in row], dtype=np.int64)
    answer = askers.copy()
    has = askers[degree[askers] > 0]
    answer[degree[askers] > 0] = flat[start[has] + (rng.random(has.size) * degree[has]).astype(np.int64)]
    return answer


def _lines_text(raw: bytes, path: Path) -> list[tuple[int, str]]:
    numbered = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        text = _decode(line, number, path).strip()
        if text and not text.startswith("#"):
            numbered.append((number, text))
    return numbered


def _lines_csv(raw: bytes, path: Path) -> list[tuple[int, str]]:
    text = _decode(raw, None, path)
    reader = csv.reader(text.splitlines(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{path}: line 1: a CSV trace needs a header row") from None
    except csv.Error as exc:
        raise InvalidInput(f"{path}: line 1: {exc}") from None
    if not header or not header[0].strip():
        raise InvalidInput(f"{path}: line 1: the CSV header must name the key column first")
    numbered = []
    try:
        for row in reader:
            if row:
                numbered.append((reader.line_num, row[0].strip()))
    except csv.Error as exc:
        raise InvalidInput(f"{path}: line {reader.line_num}: {exc}") from None
    return numbered


def _decode(data: bytes, number: int | None, path: Path) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = number if number is not None else data[:exc.start].count(b"\n") + 1
        raise InvalidInput(f"{path}: line {line}: not UTF-8 text") from None
    if "\x00" in text:
        line = number if number is not None else text[:text.index("\x00")].count("\n") + 1
        raise InvalidInput(f"{path}: line {line}: NUL byte (is this a binary file?)")
    return text


def _to_ids(numbered: list[tuple[int, str]], path: Path) -> tuple[np.ndarray, dict[str, int]]:
    if not numbered:
        raise InvalidInput(f"{path}: no keys in the file")
    largest = -1
    for number, key in numbered:
        if not key:
            raise InvalidInput(f"{path}: line {number}: empty key")
        if any(c.isspace() for c in key):
            raise InvalidInput(f"{path}: line {number}: key {key[:40]!r} contains whitespace")
        if _DIGITS.fullmatch(key):
            if len(key) > 19 or int(key) >= 2**63:
                raise InvalidInput(f"{path}: line {number}: key {key[:40]} does not fit in 64 bits")
            largest = max(largest, int(key))
    mapping: dict[str, int] = {}
    ids = []
    for _, key in numbered:
        if _DIGITS.fullmatch(key):
            ids.append(int(key))
        else:
            ids.append(mapping.setdefault(key, largest + 1 + len(mapping)))
    if mapping and largest + len(mapping) >= 2**63:
        raise InvalidInput(f"{path}: too many string keys after int key {largest}")
    return np.array(ids, dtype=np.int64), mapping


def _tables(dataset) -> dict:
    tables = getattr(dataset, "tables", None)
    needed = ("users", "sessions", "contacts", "chat_groups", "conversations", "messages")
    if not isinstance(tables, dict) or any(name not in tables for name in needed):
        raise InvalidInput("dataset must be a whatsapp_cache.db.dataset.Dataset (from dataset.generate)")
    return tables


def _trace(trace) -> np.ndarray:
    array = np.asarray(trace)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise InvalidInput("trace must be a one-dimensional sequence of integer key ids")
    if array.size and array.min() < 0:
        raise InvalidInput("trace key ids must not be negative")
    return array.astype(np.int64, copy=False)


def _keys(value, low: int = 1) -> int:
    return whole_number(value, "keys", low, MAX_KEYS)


def _requests(value) -> int:
    return whole_number(value, "requests", 0, MAX_REQUESTS)


def _seed(value) -> int:
    return whole_number(value, "seed", 0, 2**63 - 1)


def _alpha(value) -> float:
    return _real(value, "alpha", 0.0, MAX_ALPHA)



def _real(value, name: str, low: float, high: float, open_low: bool = False, open_high: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high or (open_low and value == low) or (open_high and value == high):
        bounds = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise InvalidInput(f"{name} must be in {bounds}, got {value!r}")
    return float(value)
