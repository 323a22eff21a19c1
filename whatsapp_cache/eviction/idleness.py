"""How well Redis' sampled LRU ranks keys depends on how long keys stay resident, not on the request rate.

Redis stamps each key with a clock that ticks once a second (LRU_CLOCK_RESOLUTION, server.h), and an
eviction ranks its sampled keys by whole seconds idle. How far apart those idle times are depends on
the residence time, resident keys / evictions per second:

    1,000 keys, 100,000 req/s, ~35% misses  -> 35,000 evictions/s  -> a key stays ~0.03 s: all sampled
                                                idle times read 0 s, and the pick is close to random
    106 M keys of 4 KB (425 GB on a 512 GB node), 3,750 evictions/s (37,500 req/s, 10% misses)
                                             -> ~8 h: sampled idle times span seconds to hours,
                                                and the most idle of five is a good candidate
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput
from ..tables import Column, format_table
from .redis_models import RedisLRUModel
from .simulator import simulate

DEMO_RATE = 100_000  # requests per second in chapter 04's demo
RESIDENCES_S = (0.03, 1.0, 60.0, 3_600.0, 8 * 3_600.0)


def residence_seconds(resident_keys: float, evictions_per_second: float) -> float:
    """How long a key stays resident on average once the cache is full: keys / evictions per second."""
    if not resident_keys > 0 or not evictions_per_second > 0:
        raise InvalidInput("resident keys and evictions per second must be positive")
    return resident_keys / evictions_per_second


class _RecordingLRU(RedisLRUModel):
    """Redis' LRU model that also keeps the idle times (in ticks) of every sample it scores."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sampled_idle: list[list[int]] = []

    def _scores(self, keys: list[Hashable], now: int) -> list[int]:
        scores = super()._scores(keys, now)
        self.sampled_idle.append(scores)
        return scores


@dataclass(frozen=True)
class IdleRegime:
    """One residence time: what the sampler saw and the hit ratio it reached."""

    residence_s: float       # measured: resident keys / evictions per second
    tied_share: float        # samples whose keys all showed the same whole seconds idle
    median_spread_s: float   # median over samples of (most idle - least idle), seconds
    hit_ratio: float         # Redis' sampled LRU on this clock
    exact_lru: float         # exact LRU (a perfect clock)
    random: float            # a clock that never ticks: every key equally idle

    @property
    def share_of_gap(self) -> float:
        """Where the sampled LRU lands between random (0) and exact LRU (1)."""
        return (self.hit_ratio - self.random) / (self.exact_lru - self.random)


def idle_regimes(trace: Sequence[Hashable] | np.ndarray, size: int = 1_000,
                 residences_s: Sequence[float] = RESIDENCES_S, samples: int = 5, seed: int = 0) -> list[IdleRegime]:
    """Replay `trace` on a `size`-key sampled LRU whose clock makes keys stay about each residence time.

    The clock is slowed or sped up so that the sampler sees the idle times a key living that long would
    show, whatever the node's size. Each regime reports the share of evictions whose sampled keys all
    looked equally idle, the spread of their idle times, and the hit ratio beside exact LRU and random
    eviction (a clock that never ticks). Seeded: the same arguments give the same figures.
    """
    keys = np.asarray(trace)
    if keys.ndim != 1 or len(keys) == 0:
        raise InvalidInput("trace must be a non-empty one-dimensional sequence of keys")
    if not residences_s or any(not isinstance(r, (int, float)) or isinstance(r, bool) or not r > 0
                               for r in residences_s):
        raise InvalidInput(f"residence times must be positive numbers of seconds, got {residences_s!r}")
    exact = simulate(keys, "lru", size).hit_ratio
    random_ratio = _replay(keys, size, samples, seed, np.zeros(len(keys), dtype=np.int64))[0]
    per_request = _evictions_per_request(keys, size, samples, seed)
    rows = []
    for residence in residences_s:
        seconds_per_request = residence * per_request / size  # size / (evictions per request / s per request)
        clock = np.floor(np.arange(len(keys)) * seconds_per_request).astype(np.int64)
        ratio, model, evictions = _replay(keys, size, samples, seed, clock)
        rows.append(IdleRegime(_measured_residence(size, evictions, clock), *_spread(model.sampled_idle),
                               ratio, exact, random_ratio))
    return rows


def _replay(keys: np.ndarray, size: int, samples: int, seed: int, clock: np.ndarray):
    """Replay on a recording model with this per-request clock: (hit ratio, model, evictions)."""
    model = _RecordingLRU(size, samples=samples, seed=seed)
    hits, misses, evictions = model.replay(keys, seconds=clock)
    return hits / (hits + misses), model, evictions


def _evictions_per_request(keys: np.ndarray, size: int, samples: int, seed: int) -> float:
    """Evictions per request once full, on a fine clock (the rate hardly moves with the clock)."""
    model = RedisLRUModel(size, samples=samples, seed=seed)
    _, _, evictions = model.replay(keys)
    return evictions / max(1, len(keys) - _fill(keys, size))


def _fill(keys: np.ndarray, size: int) -> int:
    """Requests until `size` distinct keys have been seen (the cache is full from then on)."""
    _, first = np.unique(keys, return_index=True)
    first.sort()
    return int(first[size - 1]) + 1 if len(first) >= size else len(keys)


def _measured_residence(size: int, evictions: int, clock: np.ndarray) -> float:
    """Resident keys / evictions per second, over the replay's span of seconds."""
    span = max(1, int(clock[-1] - clock[0]))
    return residence_seconds(size, evictions / span) if evictions else float("inf")


def _spread(sampled_idle: list[list[int]]) -> tuple[float, float]:
    """Share of samples whose idle times were all equal, and the median (max - min) idle in seconds."""
    spans = np.array([max(idle) - min(idle) for idle in sampled_idle if len(idle) > 1])
    if len(spans) == 0:
        return 1.0, 0.0
    return float(np.mean(spans == 0)), float(np.median(spans))


def format_regimes(rows: list[IdleRegime]) -> str:
    """A table: residence, samples all equally idle, median idle spread, hit ratios, share of the gap closed."""
    columns = (Column("keys resident"), Column("samples tied", format=".0%"), Column("idle spread"),
               Column("sampled LRU", format=".4f"), Column("exact", format=".4f", width=6),
               Column("random", format=".4f"), Column("gap closed", format=".0%"))
    return format_table(columns, [(_duration(row.residence_s), row.tied_share, _duration(row.median_spread_s),
                                   row.hit_ratio, row.exact_lru, row.random, row.share_of_gap) for row in rows])


def _duration(seconds: float) -> str:
    """0.03 s, 12 s, 3.0 min, 2.5 h."""
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7_200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3_600:.1f} h"
