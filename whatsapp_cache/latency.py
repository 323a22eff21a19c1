"""Simulated latencies, so a laptop run can speak in the seed's production numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import InvalidInput


@dataclass
class LatencyModel:
    """Uniform latency per tier; the defaults are the seed's (cache 1-5 ms, database 50-100 ms)."""

    cache_ms: tuple[float, float] = (1.0, 5.0)
    database_ms: tuple[float, float] = (50.0, 100.0)
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, (low, high) in (("cache_ms", self.cache_ms), ("database_ms", self.database_ms)):
            if not 0 <= low <= high:
                raise InvalidInput(f"{name} must be a range (low, high) with 0 <= low <= high")
        self._rng = random.Random(self.seed)

    # Random.uniform(a, b) is a + (b - a) * random(); written out, the same draws cost less.
    def cache_round_trip(self) -> float:
        low, high = self.cache_ms
        return low + (high - low) * self._rng.random()

    def database_query(self) -> float:
        low, high = self.database_ms
        return low + (high - low) * self._rng.random()
