"""No protection: the seed's cache-aside read, and the stampede it causes.

    reader --GET--> fresh? --yes--> hit
                      |no (missing or expired)
                      v
                    load() --SET PX--> loaded

Every reader that arrives while the first load is running also misses and loads:
100 readers on an expired hot key can mean 100 database queries for one value.
"""

from __future__ import annotations

from .base import Loader, Read, Strategy


class NoProtection(Strategy):
    """Miss -> load -> set with TTL; concurrent misses all load."""

    name = "none"

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        if entry is not None and entry.fresh(self.now()):
            return Read(entry.value, "hit")
        return self.load_and_store(name, load)
