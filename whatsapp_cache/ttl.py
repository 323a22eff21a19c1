"""How long each data type stays cached; the defaults are the seed's TTL table."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace

from .errors import InvalidInput

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_TTL = 365 * DAY  # far below what Redis' PEXPIRE accepts; longer is no cache TTL


@dataclass(frozen=True)
class TTLs:
    """Seconds per data type; `negative` is for cached 'does not exist' answers.

    `jitter` stretches each TTL by a random fraction up to itself (0.1: up to 10% longer),
    so entries filled in the same moment do not all expire in the same moment.
    """

    sessions: int = 7 * DAY
    presence: int = 5 * MINUTE
    messages: int = 1 * HOUR
    profiles: int = 24 * HOUR
    groups: int = 6 * HOUR
    negative: int = 5 * MINUTE
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float)) or not 0 <= self.jitter <= 1:
            raise InvalidInput(f"jitter must be a fraction from 0 to 1, got {self.jitter!r}")
        for name, value in self.seconds().items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TTL:
                raise InvalidInput(f"TTL for {name} must be a whole number of seconds from 1 to {MAX_TTL}, "
                                   f"got {value!r}")

    def seconds(self) -> dict[str, int]:
        """The TTL of each data type (and of negative answers), without the jitter."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "jitter"}

    def ms(self, data_type: str) -> int:
        return getattr(self, data_type) * 1000

    def jittered_ms(self, data_type: str, rng: random.Random) -> int:
        """The TTL in ms, stretched by up to `jitter` of itself."""
        return int(self.ms(data_type) * (1 + self.jitter * rng.random()))

    def with_(self, **changes: int) -> "TTLs":
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise InvalidInput(f"unknown data type(s) {sorted(unknown)}; known: {sorted(asdict(self))}")
        return replace(self, **changes)


def jittered_ttl(base: int, spread: int, rng: random.Random) -> int:
    """A TTL from `base` to `base + spread` (whole units, both included), drawn from the seeded `rng`.

    Entries filled together then expire apart. Whole numbers, because SETEX takes whole seconds
    (the seed's `3600 + Math.random() * 300` is a float Redis refuses).
    """
    return base + rng.randint(0, spread)
