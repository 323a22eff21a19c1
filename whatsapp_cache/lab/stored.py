"""Results of the lessons that need real redis-server processes (or live backends), stored for machines without them.

    text = live_or_stored("stale read", lambda: stale_read(lab).describe())

With a redis-server binary (or what `available` checks) the lesson runs and its text is returned (and, when the environment
sets WHATSAPP_CACHE_RECORD_LAB=1, written to data/lab_results.json); without one the stored
text is returned with a line saying so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from . import process
from ..errors import InvalidInput

RESULTS = Path(__file__).resolve().parents[2] / "data" / "lab_results.json"
RECORD_ENV = "WHATSAPP_CACHE_RECORD_LAB"


def live() -> bool:
    """Whether the lab's processes can start here."""
    return process.available()


def live_or_stored(name: str, compute: Callable[[], str], path: Path = RESULTS, *,
                   available: Callable[[], bool] | None = None, needs: str = "redis-server") -> str:
    """`compute()` when redis-server is here (recording it if asked), else the stored text of `name`.

    A lesson that needs another binary passes its own check as `available` and names it in `needs`
    (the "Why Redis?" lesson: memcached and redis-server).
    """
    if not isinstance(name, str) or not name:
        raise InvalidInput("a stored result needs a name")
    if (available or live)():
        text = compute()
        if os.environ.get(RECORD_ENV) == "1":
            save(name, text, path)
        return text
    stored = _load(path).get(name)
    if stored is None:
        return f"(no {needs} binary here, and no stored result named {name!r})"
    return f"{stored}\n(stored result: this machine has no {needs} binary to run it)"


def stored(name: str, path: Path = RESULTS) -> str | None:
    """The stored text of `name`, or None if nothing is stored under that name."""
    return _load(path).get(name)


def _load(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save(name: str, text: str, path: Path = RESULTS) -> None:
    """Store `text` under `name` (replacing what was there), for machines that cannot measure it."""
    results = _load(path)
    results[name] = text
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
