"""JSON payloads with a version, and the marker that makes a cached collection complete.

Every cached entry carries one marker element, written only by a full fill:
`~meta{"v":1,"exp":<ms>,"missing":false}`. A collection without it is partial (an
update landed on an expired key) and reads as a miss. `exp` is the logical expiry on
the injected clock, so simulated hours pass in milliseconds; Redis' own TTL still
reclaims the memory in real time.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Mapping, NamedTuple

PAYLOAD_VERSION = 1
META_PREFIX = "~meta"
META_FIELD = "~meta"  # the hash field that holds the marker of a hash entry
MESSAGE_FIELDS = {"id": int, "conversation_id": str, "sender_id": str, "body": str, "sent_ms": int}
# The marker exactly as encode_meta writes it; anything else takes the general JSON path.
_WRITTEN_META = re.compile(r'~meta\{"v":(\d{1,9}),"exp":(\d{1,18}),"missing":(true|false)\}')
WRITTEN_META_MAX_LEN = 64  # the longest marker encode_meta writes is 61 characters
_scan_once = json.JSONDecoder().scan_once  # json.loads' own scanner (a default JSONDecoder is its decoder)


class CorruptEntry(Exception):
    """A cached value that cannot be decoded; callers treat it as a miss."""


class Meta(NamedTuple):
    """A decoded marker (a tuple: one is built on every read)."""

    version: int
    expires_ms: int
    missing: bool = False

    def fresh(self, now_ms: int) -> bool:
        return self.version == PAYLOAD_VERSION and self.expires_ms > now_ms


def encode_meta(expires_ms: int, missing: bool = False) -> str:
    # Fixed key order: the Lua scripts read "exp" with a pattern match.
    body = json.dumps({"v": PAYLOAD_VERSION, "exp": int(expires_ms), "missing": missing}, separators=(",", ":"))
    return META_PREFIX + body


def decode_meta(raw: str | None) -> Meta:
    if not isinstance(raw, str) or not raw.startswith(META_PREFIX):
        raise CorruptEntry("marker missing")
    return _remembered_meta(raw) if len(raw) <= WRITTEN_META_MAX_LEN else _parsed_meta(raw)


@functools.lru_cache(maxsize=4096)
def _remembered_meta(raw: str) -> Meta:
    """A short marker's Meta, remembered: every hit on an entry reads the same text (a bad one raises each time)."""
    return _parsed_meta(raw)


def _parsed_meta(raw: str) -> Meta:
    written = _WRITTEN_META.fullmatch(raw)
    if written:  # the hit path's common case, without a JSON parse
        return Meta(int(written[1]), int(written[2]), written[3] == "true")
    try:
        data = json.loads(raw[len(META_PREFIX):])
        return Meta(int(data["v"]), int(data["exp"]), bool(data.get("missing", False)))
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise CorruptEntry(f"bad marker: {exc}") from None


def is_meta(raw: str) -> bool:
    return raw.startswith(META_PREFIX)


def encode_message(message: Mapping[str, Any]) -> str:
    # "id" first: the push script finds a message's id with a pattern match.
    ordered = {name: message[name] for name in MESSAGE_FIELDS}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def decode_message(raw: str) -> dict:
    """A cached message's fields in MESSAGE_FIELDS order, each of its exact type; CorruptEntry if not."""
    try:
        data = loads_value(raw)  # json.loads' value and errors, without its Python layers
    except (ValueError, TypeError, RecursionError):
        raise CorruptEntry("message is not JSON") from None
    if not isinstance(data, dict):
        raise CorruptEntry("message is not an object")
    for name, kind in MESSAGE_FIELDS.items():
        if type(data.get(name)) is not kind:  # json.loads makes exact types: this is isinstance, bool kept out of int
            raise CorruptEntry(f"message field {name!r} is missing or not {kind.__name__}")
    return {name: data[name] for name in MESSAGE_FIELDS}


def encode_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Hash fields, each value JSON-encoded so types survive the round trip."""
    return {name: json.dumps(value, separators=(",", ":"), ensure_ascii=False) for name, value in fields.items()}


def hash_items(fields: Mapping[str, Any]) -> list[str]:
    """Encoded hash fields as a flat [field, value, ...] list, the form HSET and the fill script take."""
    return [part for pair in encode_fields(fields).items() for part in pair]


def loads_value(raw: str) -> Any:
    """json.loads, by its own scanner when that reads the whole text as one value.

    The scanner is the C function json.loads runs after a BOM check and skipping leading
    whitespace; a value it reads from the first character to the last (no BOM or whitespace
    there to skip) is exactly what json.loads returns, without its Python layers. Anything
    else, including anything malformed, goes through json.loads: same value, same error.
    """
    try:
        value, end = _scan_once(raw, 0)
    except Exception:  # StopIteration, a decode error, a non-str: json.loads says what it is
        return json.loads(raw)
    return value if end == len(raw) else json.loads(raw)


def decode_fields(raw: Mapping[str, str], expected: Mapping[str, type], data: dict | None = None) -> dict:
    """The `expected` fields of a hash, decoded and type-checked, added to `data` (fields the caller
    already holds, kept ahead of them) or a new dict; CorruptEntry if one is missing or unreadable."""
    data = {} if data is None else data
    for name, kind in expected.items():
        try:
            value = loads_value(raw[name])
        except (KeyError, ValueError, TypeError, RecursionError) as exc:
            raise CorruptEntry(f"hash field unreadable: {exc}") from None
        if type(value) is not kind and (not isinstance(value, kind) or isinstance(value, bool)):
            raise CorruptEntry(f"hash field {name!r} is not {kind.__name__}")
        data[name] = value
    return data
