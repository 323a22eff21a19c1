"""Chapter 04's exercises: an O(1) LRU from a dict and a doubly linked list, then LFU with cachetools' tie rule.

Both run eviction/contract.py's hand traces, the ones the library's LRUCache and LFUCache (and
cachetools') pass in tests/test_eviction_policies.py.
"""

from __future__ import annotations

from ...eviction.contract import LFU_TRACES, LRU_TRACES
from . import Case, exercise


def _cases(traces) -> list[Case]:
    return [Case(describe, lambda candidate, _bench, run=run: run(candidate), hint) for describe, run, hint in traces]


@exercise("LRU", "04", "an O(1) LRU cache: a dict and a doubly linked list",
          hint="a dict from key to node; nodes in a doubly linked list, newest at one end; get and put move "
               "the node to that end; a put into a full cache first unlinks the node at the other end.")
def _lru_cases() -> list[Case]:
    return _cases(LRU_TRACES)


@exercise("LFU", "04", "an LFU cache that breaks ties like cachetools",
          hint="a dict from key to count, and per count an insertion-ordered dict of keys; a use moves the key "
               "to the end of the next count's bucket; evict from the front of the lowest bucket.")
def _lfu_cases() -> list[Case]:
    return _cases(LFU_TRACES)
