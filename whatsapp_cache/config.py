"""Which Redis and which database to use: from arguments, else environment, else embedded."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit

from .errors import ConfigError

REDIS_URL_ENV = "WHATSAPP_CACHE_REDIS_URL"
DATABASE_URL_ENV = "WHATSAPP_CACHE_DATABASE_URL"
REDIS_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_FLAG = "cluster"  # redis://host:port/0?cluster=true: a Redis Cluster, reached through any of its nodes
FLAG_VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


# A query parameter whose name (decoded, any case) contains one of these words carries a secret:
# password, sslpassword, passwd, token, access_token, client_secret, api_key, auth... Paths such
# as passfile or sslkey are masked too: over-masking a path is harmless, missing a secret is not.
SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "signature")
MASK = "***"
_QUERY_OPTION = re.compile(r"[?&]([^=&?]*)=([^&]*)")


def mask_url(url: str | None) -> str:
    """Return `url` with every secret replaced by ***; None reads as 'embedded'.

    Secrets are the password of the userinfo (user:***@, and a bare redis://***@ which
    redis-py takes for a password) and the value of every query parameter whose name is a
    secret's (see SECRET_WORDS). Works on the raw text, not on one parser's idea of it: an
    unencoded '/', '?', '#' or '@' in a password or a query value is read differently by
    redis-py (urllib) and SQLAlchemy, so a secret is masked wherever either would find it.
    Odd URLs are over-masked, never under-masked.
    """
    if url is None:
        return "embedded"
    if not isinstance(url, str):
        return "<not a url>"
    if "://" not in url and "@" in url:
        return "<unparseable url>"
    for start, end in reversed(_secret_spans(url)):
        url = url[:start] + MASK + url[end:]
    return url


def _secret_spans(url: str) -> list[tuple[int, int]]:
    """Where the secrets of `url` are, read as each driver may read it; merged, in order.

    The userinfo is everything up to the last '@' (SQLAlchemy ends a password at the first
    '@', urllib the userinfo at the last). The query starts at the first '?' (urllib: a '?'
    in a password ends the netloc), or at the first '?' after the last '@' (SQLAlchemy).
    """
    scheme, separator, _ = url.partition("://")
    begin = len(scheme) + len(separator) if separator else 0
    rest = url[begin:]
    userinfo, at, _ = rest.rpartition("@")
    spans = []
    if at:
        user, colon, _ = userinfo.partition(":")
        if colon:
            spans.append((len(user) + 1, len(userinfo)))
        elif scheme.lower() in REDIS_SCHEMES:
            spans.append((0, len(userinfo)))  # redis://secret@host: a bare userinfo is the password
    for query in {rest.find("?"), rest.find("?", len(userinfo))} - {-1}:
        spans += [option.span(2) for option in _QUERY_OPTION.finditer(rest, query) if is_secret_name(option[1])]
    merged: list[list[int]] = []
    for start, end in sorted((begin + start, begin + end) for start, end in spans if end > start):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def is_secret_name(name: str) -> bool:
    """Whether a URL query parameter of this name carries a secret (decoded as drivers decode it)."""
    decoded = unquote_plus(name).lower()
    return any(word in decoded for word in SECRET_WORDS)


def url_secrets(url: str | None) -> set[str]:
    """Every secret a URL carries (raw and percent-decoded), to scrub from text that may echo it."""
    if not isinstance(url, str):
        return set()
    found = {url[start:end] for start, end in _secret_spans(url)}
    return {text for secret in found for text in (secret, unquote(secret), unquote_plus(secret)) if text}


def scrub(text: str, *urls: str | None) -> str:
    """`text` with every secret of these URLs replaced by *** (longest first, so none shows in part)."""
    for secret in sorted(set().union(*map(url_secrets, urls)), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def failure_text(exc: BaseException, *urls: str | None) -> str:
    """A driver's error as one line (error_summary), with every secret of these URLs scrubbed."""
    return error_summary(exc, set().union(*map(url_secrets, urls)))


def error_detail(url: str, exc: Exception) -> str:
    """A parser's complaint about `url`, unless the URL holds credentials it might echo."""
    return str(exc) if mask_url(url) == url else f"{type(exc).__name__} (details hidden: the URL holds credentials)"


def error_summary(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The error's class and the first line of its text, every secret in it replaced by ***.

    For a SQLAlchemy error, the driver's exception it wraps: its first line says what went
    wrong, where SQLAlchemy's own text goes on with the statement and its parameters.
    """
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    text = lines[0].strip() if lines else ""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return type(inner).__name__ + (f": {text}" if text else "")


def split_cluster_flag(url: str) -> tuple[str, bool | None]:
    """The URL without its ?cluster= flag, and the flag (None if absent); ConfigError for a bad value.

    The query is looked for after the last '@' only, so a password holding '?' or '&' is never
    taken for it; the other query options stay exactly as written.
    """
    head, at, host = url.rpartition("@")
    host, question, query = host.partition("?")
    if not question:
        return url, None
    kept, flag = [], None
    for option in query.split("&"):
        name, _, value = option.partition("=")
        if name.lower() != CLUSTER_FLAG:
            kept.append(option)
        elif value.lower() in FLAG_VALUES:
            flag = FLAG_VALUES[value.lower()]
        else:
            raise ConfigError(f"cluster= must be true or false, got {value[:20]!r} in {mask_url(url)}")
    rest = host + ("?" + "&".join(kept) if kept else "")
    return head + at + rest, flag


@dataclass(frozen=True)
class BackendConfig:
    """The two URLs a World is built from (None means the embedded default), and whether Redis is a Cluster."""

    redis_url: str | None = None
    database_url: str | None = None
    redis_cluster: bool = False

    @classmethod
    def resolve(cls, redis_url: str | None = None, database_url: str | None = None,
                redis_cluster: bool | None = None, *, environment: bool = True) -> "BackendConfig":
        """Arguments win; then the environment variables (unless `environment` is False); then embedded.

        A Redis Cluster is chosen by `redis_cluster=True` or by ?cluster=true in the Redis URL
        (so also through WHATSAPP_CACHE_REDIS_URL); the flag is taken out of the URL kept here.
        """
        for name, value in (("Redis URL", redis_url), ("database URL", database_url)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, not {type(value).__name__}")
        if redis_cluster is not None and not isinstance(redis_cluster, bool):
            raise ConfigError(f"redis_cluster must be True, False or None, not {type(redis_cluster).__name__}")
        if environment:
            redis_url = redis_url or os.environ.get(REDIS_URL_ENV)
            database_url = database_url or os.environ.get(DATABASE_URL_ENV)
        redis_url, database_url = redis_url or None, database_url or None
        if redis_url is not None and _scheme(redis_url) not in REDIS_SCHEMES:
            raise ConfigError(f"Redis URL must start with redis://, rediss:// or unix://, got {mask_url(redis_url)}")
        flag = None
        if redis_url is not None:
            redis_url, flag = split_cluster_flag(redis_url)
        cluster = redis_cluster if redis_cluster is not None else bool(flag)
        _check_cluster(redis_url, cluster)
        return cls(redis_url, database_url, cluster)

    @property
    def redis_label(self) -> str:
        if self.redis_url is None:
            return "fakeredis (in process)"
        return mask_url(self.redis_url) + (" (cluster)" if self.redis_cluster else "")

    @property
    def database_label(self) -> str:
        return "SQLite (in memory)" if self.database_url is None else mask_url(self.database_url)

    @property
    def label(self) -> str:
        """Both backends in one line, passwords masked, e.g. 'fakeredis (in process) + SQLite (in memory)'."""
        return f"{self.redis_label} + {self.database_label}"

    def __repr__(self) -> str:
        return f"BackendConfig(redis={self.redis_label!r}, database={self.database_label!r})"


def produced_on(rows) -> list[str]:
    """A table's first line, naming the backends its rows were produced on ('backend'); none if they do not say."""
    labels = dict.fromkeys(getattr(row, "backend", "") for row in rows)
    return [f"on {label}" for label in labels if label]


def _check_cluster(redis_url: str | None, cluster: bool) -> None:
    if not cluster:
        return
    if redis_url is None:
        raise ConfigError("a Redis Cluster needs a redis:// URL of one of its nodes; fakeredis has no cluster mode")
    if _scheme(redis_url) == "unix":
        raise ConfigError(f"redis-py reaches a Redis Cluster over TCP only, not {mask_url(redis_url)}")


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
