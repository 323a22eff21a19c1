"""Loaded embedded databases kept as in-memory SQLite images, copied into each new World.

Generating and inserting the 'small' data set costs about a second; copying a loaded
database page by page with SQLite's backup API costs a few milliseconds. The first World
of a size and seed loads the rows and keeps a copy; later Worlds in the same process are
restored from it. Only the embedded (in-memory SQLite) database is imaged: a database
behind a URL is loaded once and kept by its server.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict

from sqlalchemy.engine import Engine

MAX_IMAGES = 4  # a 'large' image is tens of MB; a process rarely needs more than a few

_images: OrderedDict[tuple, sqlite3.Connection] = OrderedDict()
_lock = threading.Lock()


def is_embedded(engine: Engine) -> bool:
    """Whether the engine is the embedded in-memory SQLite database."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


def restore(engine: Engine, key: tuple) -> bool:
    """Copy the image for `key` into the engine's database; False when there is none yet."""
    with _lock:
        image = _images.get(key)
        if image is None:
            return False
        _images.move_to_end(key)
        with engine.connect() as conn:
            image.backup(_sqlite_connection(conn))
    return True


def keep(engine: Engine, key: tuple) -> None:
    """Keep a copy of the engine's loaded database as the image for `key`."""
    image = sqlite3.connect(":memory:", check_same_thread=False)
    with engine.connect() as conn:
        _sqlite_connection(conn).backup(image)
    with _lock:
        _images[key] = image
        while len(_images) > MAX_IMAGES:
            _images.popitem(last=False)[1].close()


def forget_all() -> None:
    """Drop every image (tests use it to measure a first build)."""
    with _lock:
        while _images:
            _images.popitem()[1].close()


def _sqlite_connection(conn) -> sqlite3.Connection:
    return conn.connection.driver_connection
