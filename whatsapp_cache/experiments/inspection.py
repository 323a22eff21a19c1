"""See the exact Redis commands a call sends, and how many round trips they take.

It listens on instrument.py's hook on redis-py's connections for the length of a `with`
block, so it works the same on fakeredis and on a live server.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ..codec import META_FIELD, CorruptEntry, decode_meta, is_meta
from ..datatypes.generation import TOKEN_PATTERN
from .instrument import Observer, observing


@dataclass
class CommandLog:
    """Commands in the order they were packed, and the number of network writes (round trips).

    A new connection's handshake (HELLO, CLIENT SETINFO, AUTH, SELECT) is not the call's
    work: it is counted in `handshakes` and left out of the commands and round trips.
    """

    commands: list[tuple[str, ...]] = field(default_factory=list)
    round_trips: int = 0
    handshakes: int = 0
    script_names: dict[str, str] = field(default_factory=dict)

    def lines(self, width: int = 100) -> list[str]:
        """Commands as redis-cli would show them, with script SHAs replaced by script names."""
        return [_shorten(" ".join(self._words(command)), width) for command in self.commands]

    def _words(self, command: tuple[str, ...]) -> list[str]:
        # generation tokens are random (see datatypes/generation.py): shown as <token>, so runs read alike
        words = [TOKEN_PATTERN.sub("<token>", str(part)) for part in command]
        if words and words[0].upper() == "EVALSHA" and len(words) > 1:
            words[1] = f"<{self.script_names.get(words[1], words[1][:8])}>"
        return words

    def __str__(self) -> str:
        trips = f"{self.round_trips} round trip{'' if self.round_trips == 1 else 's'}"
        count = f"{len(self.commands)} command{'' if len(self.commands) == 1 else 's'}"
        return "\n".join(self.lines()) + f"\n({count} in {trips})"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@contextmanager
def watch_commands(world=None) -> Iterator[CommandLog]:
    """Record every command sent by any redis-py client inside the block."""
    log = CommandLog()
    if world is not None:
        log.script_names = world.scripts.names()
    with observing(_Recorder(log)):
        yield log


class _Recorder(Observer):
    def __init__(self, log: CommandLog):
        self.log = log

    def command(self, connection, args, handshake):
        if not handshake:
            self.log.commands.append(tuple(_text(a) for a in args))

    def sending(self, connection, packed, handshake):
        if handshake:
            self.log.handshakes += 1
        else:
            self.log.round_trips += 1


def _text(part) -> str:
    return part.decode("utf-8", "replace") if isinstance(part, bytes) else str(part)


def logical_expiry_ms(client, key: str) -> int | None:
    """When a cached entry expires on the world's clock (from its marker); None if it has none."""
    kind = client.type(key)
    if kind == "hash":
        raw = client.hget(key, META_FIELD)
    elif kind == "list":
        raw = client.lindex(key, -1)
    elif kind in ("set", "zset"):
        members = client.smembers(key) if kind == "set" else client.zrange(key, 0, -1)
        raw = next((m for m in members if is_meta(m)), None)
    else:
        return None
    try:
        return decode_meta(raw).expires_ms
    except CorruptEntry:
        return None
