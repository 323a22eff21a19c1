"""Trace a policy by hand: one line per request, saying hit or miss and what was evicted."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable

from ..tables import Column, table_lines


@dataclass(frozen=True)
class TraceStep:
    key: Hashable
    hit: bool
    evicted: tuple
    contents: tuple


def trace_by_hand(make_cache: Callable[[int], MutableMapping], maxsize: int, keys: Iterable[Hashable]) -> list[TraceStep]:
    """Replay `keys` on a fresh cache of `maxsize` items: a hit reads the key, a miss inserts it."""
    cache = make_cache(maxsize)
    steps = []
    for key in keys:
        before = set(cache)
        hit = key in cache
        if hit:
            cache[key]
        else:
            cache[key] = key
        evicted = tuple(sorted(before - set(cache), key=str))
        steps.append(TraceStep(key, hit, evicted, tuple(sorted(cache, key=str))))
    return steps


def format_steps(steps: list[TraceStep]) -> str:
    columns = (Column("request"), Column("", "<", width=4, gap="  "), Column("evicts", "<", width=7, gap="  "),
               Column("cache now", "<"))
    lines = table_lines(columns, [(str(step.key), "hit" if step.hit else "miss",
                                   ", ".join(map(str, step.evicted)) or "-", " ".join(map(str, step.contents)))
                                  for step in steps])
    hits = sum(step.hit for step in steps)
    lines.append(f"{hits} hits of {len(steps)} requests")
    return "\n".join(lines)
