"""Which Redis and which database to use: from arguments, else environment, else embedded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError

REDIS_URL_ENV = "WHATSAPP_CACHE_REDIS_URL"
DATABASE_URL_ENV = "WHATSAPP_CACHE_DATABASE_URL"
REDIS_SCHEMES = ("redis", "rediss", "unix")


def mask_url(url: str | None) -> str:
    """Return `url` with any password replaced by ***; None reads as 'embedded'."""
    if url is None:
        return "embedded"
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<unparseable url>"
    if "@" not in netloc:
        return url
    userinfo, host = netloc.rsplit("@", 1)
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    elif userinfo and parts.scheme in REDIS_SCHEMES:
        userinfo = "***"  # redis://secret@host: a bare userinfo is the password
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


@dataclass(frozen=True)
class BackendConfig:
    """The two URLs a World is built from; None means the embedded default."""

    redis_url: str | None = None
    database_url: str | None = None

    @classmethod
    def resolve(cls, redis_url: str | None = None, database_url: str | None = None) -> "BackendConfig":
        """Arguments win; then the environment variables; then the embedded default."""
        redis_url = redis_url or os.environ.get(REDIS_URL_ENV) or None
        database_url = database_url or os.environ.get(DATABASE_URL_ENV) or None
        if redis_url is not None and urlsplit(redis_url).scheme not in REDIS_SCHEMES:
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
