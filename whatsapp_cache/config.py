"""Which Redis and which database to use: from arguments, else environment, else embedded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigError

REDIS_URL_ENV = "WHATSAPP_CACHE_REDIS_URL"
DATABASE_URL_ENV = "WHATSAPP_CACHE_DATABASE_URL"
REDIS_SCHEMES = ("redis", "rediss", "unix")


def mask_url(url: str | None) -> str:
    """Return `url` with any password replaced by ***; None reads as 'embedded'.

    Works on the raw text, not on a URL parser's idea of it: a password holding an
    unencoded '/', '?' or '#' would otherwise end the parser's netloc early and be shown.
    Everything up to the last '@' counts as credentials, so odd URLs are over-masked,
    never under-masked.
    """
    if url is None:
        return "embedded"
    if not isinstance(url, str):
        return "<not a url>"
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "<unparseable url>" if "@" in url else url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    if colon:
        userinfo = user + ":***"
    elif userinfo and scheme.lower() in REDIS_SCHEMES:
        userinfo = "***"  # redis://secret@host: a bare userinfo is the password
    return f"{scheme}://{userinfo}@{host}"


def error_detail(url: str, exc: Exception) -> str:
    """A parser's complaint about `url`, unless the URL holds credentials it might echo."""
    return str(exc) if mask_url(url) == url else f"{type(exc).__name__} (details hidden: the URL holds credentials)"


@dataclass(frozen=True)
class BackendConfig:
    """The two URLs a World is built from; None means the embedded default."""

    redis_url: str | None = None
    database_url: str | None = None

    @classmethod
    def resolve(cls, redis_url: str | None = None, database_url: str | None = None) -> "BackendConfig":
        """Arguments win; then the environment variables; then the embedded default."""
        for name, value in (("Redis URL", redis_url), ("database URL", database_url)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, not {type(value).__name__}")
        redis_url = redis_url or os.environ.get(REDIS_URL_ENV) or None
        database_url = database_url or os.environ.get(DATABASE_URL_ENV) or None
        if redis_url is not None and _scheme(redis_url) not in REDIS_SCHEMES:
            raise ConfigError(f"Redis URL must start with redis://, rediss:// or unix://, got {mask_url(redis_url)}")
        return cls(redis_url, database_url)

    @property
    def redis_label(self) -> str:
        return "fakeredis (in process)" if self.redis_url is None else mask_url(self.redis_url)

    @property
    def database_label(self) -> str:
        return "SQLite (in memory)" if self.database_url is None else mask_url(self.database_url)

    def __repr__(self) -> str:
        return f"BackendConfig(redis={self.redis_label!r}, database={self.database_label!r})"


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
