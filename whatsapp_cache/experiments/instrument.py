"""One hook on redis-py's connections, shared by the tools that watch or break Redis traffic.

inspection (the commands sent), wire (one client's round trips) and faults (round trips that fail)
each subscribe an Observer for a `with` block. While anyone is subscribed, four methods of redis-py's
AbstractConnection are wrapped, so the hook sees fakeredis (redis-py connections over an in-process
socket) and a live server alike. For lessons and tests, not production.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from redis.connection import AbstractConnection


class Observer:
    """What a subscriber hears; override only what it needs.

    `handshake` is true for writes made while a connection (re)connects (HELLO, CLIENT SETINFO, AUTH,
    SELECT) or from inside another write: they are not the caller's own work.
    """

    def command(self, connection, args: tuple, handshake: bool) -> None:
        """A command is packed to be sent: alone, or as one of a pipeline's."""

    def sending(self, connection, packed, handshake: bool) -> None:
        """A round trip is about to be written; raising here fails it unsent."""

    def sent(self, connection, packed, handshake: bool) -> None:
        """A round trip went out."""


Subscriber = TypeVar("Subscriber", bound=Observer)

_lock = threading.Lock()  # guards _observers and the wrapping and unwrapping of the class
_observers: tuple[Observer, ...] = ()  # newest first, like the outermost of stacked patches
_originals: dict[str, Callable] = {}
_depth = threading.local()  # per thread: how many connects and writes are under way


@contextmanager
def observing(observer: Subscriber) -> Iterator[Subscriber]:
    """Subscribe `observer` to every redis-py connection in the process inside the block."""
    global _observers
    with _lock:
        if not _observers:
            _wrap()
        _observers = (observer, *_observers)
    try:
        yield observer
    finally:
        with _lock:
            _observers = tuple(o for o in _observers if o is not observer)
            if not _observers:
                _unwrap()


def _tell(event: str, connection, payload) -> None:
    handshake = getattr(_depth, "connects", 0) > 0 or getattr(_depth, "writes", 0) > 0
    for observer in _observers:  # a snapshot: the tuple is replaced, never changed
        getattr(observer, event)(connection, payload, handshake)


@contextmanager
def _inside(counter: str) -> Iterator[None]:
    setattr(_depth, counter, getattr(_depth, counter, 0) + 1)
    try:
        yield
    finally:
        setattr(_depth, counter, getattr(_depth, counter) - 1)


def _wrap() -> None:
    original = {name: vars(AbstractConnection)[name]
                for name in ("send_command", "pack_commands", "send_packed_command", "connect_check_health")}

    def send_command(self, *args, **kwargs):
        _tell("command", self, args)
        return original["send_command"](self, *args, **kwargs)

    def pack_commands(self, commands):
        commands = list(commands)  # heard, then packed: an iterator must not be used up by the hearing
        for args in commands:
            _tell("command", self, args)
        return original["pack_commands"](self, commands)

    def send_packed_command(self, command, check_health=True):
        _tell("sending", self, command)
        with _inside("writes"):  # a connect or health check inside this write is not the caller's
            original["send_packed_command"](self, command, check_health)
        _tell("sent", self, command)

    def connect_check_health(self, *args, **kwargs):
        with _inside("connects"):
            return original["connect_check_health"](self, *args, **kwargs)

    _originals.update(original)
    wrappers = (send_command, pack_commands, send_packed_command, connect_check_health)
    for wrapper in wrappers:
        setattr(AbstractConnection, wrapper.__name__, wrapper)


def _unwrap() -> None:
    for name, method in _originals.items():
        setattr(AbstractConnection, name, method)
    _originals.clear()
