"""The embedded SQLite database's one connection, lent to one thread at a time."""

from __future__ import annotations

import threading

from sqlalchemy.exc import InvalidRequestError, ResourceClosedError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import Pool


class EmbeddedDatabaseClosed(ResourceClosedError):
    """The embedded database's connection was closed or invalidated, and its data with it."""


class EmbeddedDatabaseHeld(InvalidRequestError):
    """A thread asked for the embedded database's connection while it already held it."""


class OneConnectionPool(Pool):
    """The embedded database's one sqlite3 connection, lent to one thread at a time.

    An in-memory SQLite database lives only as long as its one connection, and Python's
    sqlite3 module does not make that connection safe for two threads at once: they share
    its transaction, its statements and its error state. Shared anyway (StaticPool), one
    thread's ROLLBACK undid another's acknowledged INSERT, whose id went to the next
    message; a failed reset made SQLAlchemy close the connection under the others (a
    segfault) and open a new, empty database. Here a checkout waits until the connection is
    free; the thread that holds it already is refused (waiting would never end, sharing would
    mix two transactions); and the connection is opened once: once lost, every checkout raises.
    """

    def __init__(self, creator, timeout: float = 30.0, **kwargs):
        self._timeout_s = timeout
        self._free = threading.Lock()  # not an RLock: a leaked checkout is returned by the garbage collector
        self._holder: int | None = None
        self._record = None
        super().__init__(creator if isinstance(creator, _OpenOnce) else _OpenOnce(creator), **kwargs)

    def status(self) -> str:
        return f"OneConnectionPool(held by thread {self._holder})" if self._holder else "OneConnectionPool(free)"

    def _do_get(self):
        if self._holder == threading.get_ident():
            raise EmbeddedDatabaseHeld("this thread already holds the embedded database's only connection; "
                                       "finish that use before starting another")
        if not self._free.acquire(timeout=self._timeout_s):
            raise PoolTimeout(f"no turn at the embedded database's connection within {self._timeout_s} s")
        self._holder = threading.get_ident()
        try:
            if self._record is None:
                self._record = self._create_connection()
        except BaseException:
            self._release()
            raise
        return self._record

    def _do_return_conn(self, record) -> None:
        self._release()

    def _release(self) -> None:
        self._holder = None
        self._free.release()

    def dispose(self) -> None:
        """Close the connection, and with it the database (after its current user is done)."""
        if self._record is None:
            return
        waited = self._holder != threading.get_ident() and self._free.acquire(timeout=self._timeout_s)
        try:
            self._record.close()
        finally:
            if waited:
                self._free.release()

    def recreate(self) -> "OneConnectionPool":
        """A pool with the same creator; it refuses to connect, as the database is gone (engine.dispose())."""
        self.logger.info("Pool recreating")
        return self.__class__(self._creator, timeout=self._timeout_s, recycle=self._recycle,
                              reset_on_return=self._reset_on_return, pre_ping=self._pre_ping, echo=self.echo,
                              logging_name=self._orig_logging_name, _dispatch=self.dispatch, dialect=self._dialect)


class _OpenOnce:
    """A pool's creator that connects only once: a second :memory: connection is a new, empty database.

    SQLAlchemy reconnects an invalidated connection (after an error it takes for a disconnect,
    or a failed rollback) on its next checkout; here that checkout raises instead.
    """

    def __init__(self, creator):
        self._creator = creator
        self._opened = False

    def __call__(self, connection_record=None):
        if self._opened:
            raise EmbeddedDatabaseClosed("the embedded in-memory database was closed (its connection was lost "
                                         "or the World closed); its data is gone")
        self._opened = True
        return self._creator(connection_record)
