"""The first output of every notebook: which backends its World() calls will run on.

A notebook run against live Redis and PostgreSQL looks like one run embedded; this line says
which it is, with any password in the URLs masked.
"""

from __future__ import annotations

from ..config import DATABASE_URL_ENV, REDIS_URL_ENV, BackendConfig


def backends_line(config: BackendConfig | None = None) -> str:
    """One line naming the backends (URLs masked): the ones World() picks from the environment."""
    config = config or BackendConfig.resolve()
    if config.redis_url is None and config.database_url is None:
        return (f"Backends: {config.label}, the embedded default "
                f"(set {REDIS_URL_ENV} and {DATABASE_URL_ENV} before starting JupyterLab to run live).")
    return f"Backends: LIVE {config.label} (from {REDIS_URL_ENV} / {DATABASE_URL_ENV})."


def show_backends() -> None:
    """Print backends_line(): each chapter's first code cell calls it."""
    print(backends_line())
