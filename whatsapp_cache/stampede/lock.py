"""A recompute lock: one reader loads, the others wait a bounded time, then fall back.

    reader --GET--> fresh? --yes--> hit
                      |no
                      v
             SET lock <token> NX PX --won--> GET again (someone may have just filled it)
                      |lost                     -> load() -> SET value -> release if still <token>
                      v
             poll: fresh value?  --yes--> waited
                   lock free?    --won--> load as above
                   waited max_wait_ms? --> stale value if Redis still has one, else load()

Fixes the seed's lock: the lock always has a PX, so a holder that dies never leaves it
held past lock_ms; the random token and a compare-and-delete script mean a slow holder
whose lock expired cannot delete the next holder's lock; waiters never return nothing.
"""

from __future__ import annotations

import secrets
from typing import Callable

from ..errors import InvalidInput
from .base import Loader, Read, Strategy

# Delete the lock only if it still holds our token (GET + DEL atomically).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def new_token() -> str:
    """A holder's token: random, so no other holder (thread, process, server) ever has the same one."""
    return secrets.token_hex(16)


def acquire_lock(client, key: str, lock_ms: int, token: str | None = None) -> str | None:
    """Take the lock at `key` for lock_ms if nobody holds it: one SET NX PX. Returns the holder's
    token (keep it to release), or None when another holder has it."""
    token = token if token is not None else new_token()
    return token if client.set(key, token, nx=True, px=lock_ms) else None


def release_lock(client, key: str, token: str) -> bool:
    """Delete the lock only if it still holds `token` (compare and delete in one script).
    False if it expired, or another holder took it since."""
    return bool(client.register_script(RELEASE)(keys=[key], args=[token]))  # EVALSHA; loads it once if missing


class Lock(Strategy):
    """SET NX PX lock with a random token; waiters poll every poll_ms for at most max_wait_ms."""

    name = "lock"

    def __init__(self, *args, lock_ms: int = 2000, max_wait_ms: int = 1000, poll_ms: int = 10,
                 token_factory: Callable[[], str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for label, value in (("lock_ms", lock_ms), ("max_wait_ms", max_wait_ms), ("poll_ms", poll_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidInput(f"{label} must be a positive integer")
        self.lock_ms, self.max_wait_ms, self.poll_ms = lock_ms, max_wait_ms, poll_ms
        self.token_factory = token_factory or new_token

    def acquire(self, name: str, token: str) -> bool:
        """Take the lock for lock_ms if nobody holds it."""
        return acquire_lock(self.redis, self.keys.lock(name), self.lock_ms, token) is not None

    def release(self, name: str, token: str) -> bool:
        """Delete the lock if it is still ours; False if it expired or another reader holds it."""
        return release_lock(self.redis, self.keys.lock(name), token)

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        if entry is not None and entry.fresh(self.now()):
            return Read(entry.value, "hit")
        started = self.now()
        while True:
            read = self._try_as_holder(name, load, started)
            if read is not None:
                return read
            self.sleep(self.poll_ms)
            waited = self.now() - started
            latest = self.fetch(name)
            entry = latest if latest is not None else entry
            if latest is not None and latest.fresh(self.now()):
                return Read(latest.value, "waited", waited)
            if waited >= self.max_wait_ms:
                break
        if entry is not None:
            return Read(entry.value, "stale", waited)
        return self.load_and_store(name, load, "loaded", waited)

    def _try_as_holder(self, name: str, load: Loader, started: int) -> Read | None:
        token = self.token_factory()
        if not self.acquire(name, token):
            return None
        try:
            waited = self.now() - started
            entry = self.fetch(name)
            if entry is not None and entry.fresh(self.now()):
                return Read(entry.value, "waited" if waited else "hit", waited)
            return self.load_and_store(name, load, "loaded", waited)
        finally:
            self.release(name, token)
