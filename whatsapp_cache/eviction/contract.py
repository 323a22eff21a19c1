"""The eviction policies' contract as hand-traced sequences: which key each put evicts, what each get returns.

One contract for three kinds of subject: the library's LRUCache and LFUCache, cachetools' (the
interface ours promise), both through `MappingPolicy`, and chapter 04's exercises, where a
learner writes a class with

    get(key) -> value, or None when absent      a use, when present
    put(key, value) -> the evicted key, or None  a use; a new key into a full cache evicts first

tests/test_eviction_policies.py runs these traces on the library's classes and cachetools';
course/exercises/ch04.py runs them on the learner's.

The tie rule (LFUCache's, which is cachetools'): among keys with equally few uses, the one that
has been at that count longest goes first. Counts start again at 1 when an evicted key comes back.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from ..course.exercises import expect

Op = tuple  # ("put", key, expected evicted key or None) or ("get", key, expected value or None)


def put(key: str, evicts: str | None = None, value: str | None = None) -> Op:
    return ("put", key, evicts, value or key.upper())


def get(key: str, returns: str | None | bool = True) -> Op:
    """A get that returns the key's value (its upper case) unless `returns` says otherwise (None: absent)."""
    return ("get", key, key.upper() if returns is True else returns, None)


class MappingPolicy:
    """A cachetools-style mapping (ours or cachetools') behind get/put, reporting what each put evicted."""

    def __init__(self, cache):
        self.cache = cache

    def get(self, key: Hashable) -> Any:
        return self.cache.get(key)

    def put(self, key: Hashable, value: Any) -> Hashable | None:
        before = set(self.cache)
        self.cache[key] = value
        gone = before - set(self.cache)
        return gone.pop() if gone else None


def replay(make: Callable[[int], Any], capacity: int, ops: list[Op]) -> None:
    """Run `ops` on `make(capacity)`; a Mismatch names the first operation whose answer differs."""
    subject, done = make(capacity), []
    for kind, key, expected, value in ops:
        done.append(f"{kind}({key!r})" if kind == "get" else f"put({key!r}, {value!r})")
        got = subject.get(key) if kind == "get" else subject.put(key, value)
        if got != expected:
            shown = done if len(done) <= 12 else ["...", *done[-11:]]
            what = "returns" if kind == "get" else "evicts"
            expect(False, f"capacity {capacity}: " + ", ".join(shown), got,
                   f"{expected!r} (the last call {what} {expected!r})")


def _trace(capacity: int, ops: list[Op]) -> Callable:
    return lambda make: replay(make, capacity, ops)


class _Counted:
    """A key that counts how often it is compared with another (a scan compares; a dict lookup does not)."""

    compared = 0

    def __init__(self, number: int):
        self.number = number

    def __hash__(self) -> int:
        return self.number

    def __eq__(self, other) -> bool:
        _Counted.compared += 1
        return isinstance(other, _Counted) and other.number == self.number

    def __repr__(self) -> str:
        return f"k{self.number}"


def no_scans(make: Callable[[int], Any], capacity: int = 1000, rounds: int = 3000) -> None:
    """O(1) per operation, counted rather than timed: a list or deque of keys compares keys on every
    remove/index/in; a dict with a linked list (or an OrderedDict) finds them by hash."""
    subject, keys = make(capacity), [_Counted(n) for n in range(2 * capacity)]
    for key in keys[:capacity]:
        subject.put(key, key.number)
    _Counted.compared = 0
    for step in range(rounds):
        key = keys[(step * 7919) % (2 * capacity)]
        if step % 2:
            subject.get(key)
        else:
            subject.put(key, step)
    per_operation = _Counted.compared / rounds
    expect(per_operation < 2, f"{rounds} gets and puts on a full cache of {capacity} keys, counting key comparisons",
           f"{per_operation:,.0f} comparisons per operation",
           "fewer than 2 per operation: find a key by hash (a dict), never by walking a list")


LRU_TRACES = [
    ("returns what was put, and None for a missing key", _trace(2, [
        put("a"), put("b"), get("a"), get("b"), get("x", None)]),
     "keep a dict from key to value (or to a node holding it); a full cache has `capacity` keys"),
    ("when full, a put evicts the key used longest ago", _trace(3, [
        put("a"), put("b"), put("c"), put("d", "a"), put("e", "b"), get("c"), get("d"), get("e")]),
     "evict from the old end of the order, before inserting the new key"),
    ("an overwrite is a use", _trace(3, [
        put("a"), put("b"), put("c"), put("a", None, "A2"), put("d", "b"), get("a", "A2")]),
     "a put of a key already there updates its value and moves it to the new end"),
    ("a read is a use", _trace(3, [
        put("a"), put("b"), put("c"), get("a"), put("d", "b"), get("c"), put("e", "a"),
        put("d", None, "D2"), put("f", "c"), get("d", "D2"), get("e"), get("f")]),
     "a get of a present key moves it to the new end of the order"),
    ("a missing read changes nothing", _trace(3, [
        put("a"), put("b"), put("c"), get("z", None), put("d", "a")]), "a miss neither stores nor moves anything"),
    ("capacity 1 keeps only the last key", _trace(1, [
        put("a"), put("b", "a"), get("a", None), get("b")]), ""),
    ("every operation is O(1): no scan over the keys", no_scans,
     "a dict from key to a node of a doubly linked list: unlink and relink in O(1), no list.remove"),
]

LFU_TRACES = [
    ("returns what was put, and None for a missing key", _trace(2, [
        put("a"), put("b"), get("a"), get("b"), get("x", None)]), "a dict from key to value, and one to its count"),
    ("when full, a put evicts the key with the fewest uses", _trace(3, [
        put("a"), put("b"), put("c"), get("a"), get("a"), get("b"), get("c"), put("d", "b"), get("a"), get("c"),
        get("d")]),
     "count every get and put of a key; evict from the lowest count"),
    ("an overwrite is a use: the count goes on", _trace(3, [
        put("a"), put("b"), put("c"), get("a"), get("a"), get("b"), get("c"), put("a", None, "A2"),
        put("d", "b"), get("a", "A2")]),
     "a put of a key already there adds one to its count; it does not start again at 1"),
    ("among equal counts, the key longest at that count goes first", _trace(3, [
        put("a"), put("b"), put("c"), get("a"), get("a"), get("c"), get("b"), put("d", "c"), put("e", "d"),
        put("b", None, "B2"), get("e"), get("e"), put("f", "a"), put("g", "f")]),
     "one ordered bucket per count: a key joins the END of its new bucket; evict from the FRONT of the lowest"),
    ("counts start again when an evicted key comes back", _trace(2, [
        put("a"), get("a"), get("a"), get("a"), put("b"), get("b"), get("b"), get("b"), get("b"), put("c", "a"),
        put("a", "c"), get("a"), put("d", "a")]),
     "forget a key's count when it is evicted"),
]


def run_all(traces, make) -> None:
    """Every trace of a contract on `make` (a class taking the capacity), for the library's tests."""
    for _describe, run, _hint in traces:
        run(make)
