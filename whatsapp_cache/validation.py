"""Checks at the API boundary, so bad input fails early with a clear message."""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Iterable

from .errors import InvalidInput

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONVERSATION_PATTERN = re.compile(r"(dm\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}|grp\.[A-Za-z0-9_-]{1,64})")
MAX_BODY_CHARS = 4096
MAX_TOKEN_CHARS = 512


def entity_id(value: object, what: str = "id") -> str:
    """Return `value` if it is a key-safe id string, else raise InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}")
    if not ID_PATTERN.fullmatch(value):
        raise InvalidInput(f"{what} must be 1-64 characters from A-Z a-z 0-9 _ -, got {value[:80]!r}")
    return value


def entity_ids(values: object, what: str = "ids", limit: int = 1000) -> list[str]:
    """Return a list or tuple of at most `limit` ids as a list without repeats (first order kept)."""
    if not isinstance(values, (list, tuple)):
        raise InvalidInput(f"{what} must be a list of strings, not {type(values).__name__}")
    if len(values) > limit:
        raise InvalidInput(f"{what}: {len(values)} given; at most {limit} per call")
    return list(dict.fromkeys(entity_id(value, what.removesuffix("s")) for value in values))


def conversation_id(value: object) -> str:
    """Return `value` if it names a direct (dm.a.b) or group (grp.g) conversation."""
    if not isinstance(value, str):
        raise InvalidInput(f"conversation id must be a string, not {type(value).__name__}")
    if not CONVERSATION_PATTERN.fullmatch(value):
        raise InvalidInput(f"conversation id must look like 'dm.<user>.<user>' or 'grp.<group>', got {value[:80]!r}")
    return value


def message_body(value: object) -> str:
    """Return a message body that is a non-blank string of at most MAX_BODY_CHARS."""
    if not isinstance(value, str):
        raise InvalidInput(f"message body must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidInput("message body must not be empty or blank")
    if len(value) > MAX_BODY_CHARS:
        raise InvalidInput(f"message body has {len(value)} characters; the limit is {MAX_BODY_CHARS}")
    if "\x00" in value:
        raise InvalidInput("message body must not contain NUL characters")
    return _utf8(value, "message body")


def session_token(value: object) -> str:
    """Return a bearer token string; the message never echoes the token itself."""
    if not isinstance(value, str):
        raise InvalidInput(f"session token must be a string, not {type(value).__name__}")
    if not 16 <= len(value) <= MAX_TOKEN_CHARS or not value.isprintable():
        raise InvalidInput("session token must be 16-512 printable characters")
    return value


def positive_int(value: object, what: str) -> int:
    """Return `value` if it is an int greater than zero."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{what} must be a positive integer, got {value!r}")
    return value


def whole_number(value: object, what: str, low: int, high: int | None = None) -> int:
    """Return `value` as an int if it is a whole number (numpy's too, never a bool) from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (high is not None and value > high):
        bounds = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
        raise InvalidInput(f"{what} must be a whole number {bounds}, got {value!r:.80}")
    return int(value)


def finite_number(value: object, what: str, minimum: float | None = None) -> int | float:
    """Return `value` if it is a real number (not a bool), finite, and at least `minimum` if given."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number, got {value!r:.80}")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, got {value!r}")
    return value


def choice(value: object, choices: Iterable[str], what: str) -> str:
    """Return `value` if it is one of the names in `choices` (a dict's keys, a tuple...); anything else,
    unhashable values included, is InvalidInput."""
    names = list(choices)
    if not isinstance(value, str) or value not in names:
        raise InvalidInput(f"{what} must be one of {', '.join(map(repr, names))}, got {value!r:.80}")
    return value


def short_text(value: object, what: str, limit: int = 256) -> str:
    """Return a profile text field: a string of at most `limit` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > limit or "\x00" in value:
        raise InvalidInput(f"{what} must be at most {limit} characters without NUL")
    return _utf8(value, what)


def _utf8(value: str, what: str) -> str:
    """Reject lone surrogates, which no database or Redis encoding can store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode text (lone surrogate)") from None
    return value
