"""How long each data type stays cached; the defaults are the seed's TTL table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .errors import InvalidInput

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_TTL = 365 * DAY  # far below what Redis' PEXPIRE accepts; longer is no cache TTL


@dataclass(frozen=True)
class TTLs:
    """Seconds per data type; `negative` is for cached 'does not exist' answers."""

    sessions: int = 7 * DAY
    presence: int = 5 * MINUTE
    messages: int = 1 * HOUR
    profiles: int = 24 * HOUR
    groups: int = 6 * HOUR
    negative: int = 5 * MINUTE

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TTL:
                raise InvalidInput(f"TTL for {name} must be a whole number of seconds from 1 to {MAX_TTL}, "
                                   f"got {value!r}")

    def ms(self, data_type: str) -> int:
        return getattr(self, data_type) * 1000

    def with_(self, **changes: int) -> "TTLs":
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise InvalidInput(f"unknown data type(s) {sorted(unknown)}; known: {sorted(asdict(self))}")
        return replace(self, **changes)
