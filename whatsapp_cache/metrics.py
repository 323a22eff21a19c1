"""Every cache and database call counted per data type, with simulated and measured latency."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Iterable, Iterator, NamedTuple, TypeVar

import numpy as np

from .clock import Clock
from .config import produced_on
from .errors import InvalidInput, NotFound
from .latency import DatabaseUnavailable, LatencyModel, LoadShed
from .resilience import CacheGuard
from .tables import RULE, Column, format_table

DATA_TYPES = ("sessions", "presence", "messages", "profiles", "groups")
_OUTCOME_COUNTERS = {"hit": "hits", "miss": "misses", "fallback": "fallbacks", "write": "writes", "error": "errors",
                     "stale": "served_stale"}
READ_OUTCOMES = ("hit", "miss", "fallback", "stale")
LOG_SIZE = 100_000  # records the request log keeps by default: about 22 MB, at some 220 bytes a record
T = TypeVar("T")
# A RequestRecord from its ten fields in order, without NamedTuple's Python-level __new__ (one per request).
_new_tuple = tuple.__new__


def percentile(values: Iterable[float], percent: float) -> float:
    """The nearest-rank percentile (the smallest value with `percent`% of them at or below it); 0.0 for none.

    The course's one definition: a p99 is a value that was really observed, never one between two.
    """
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


@dataclass(slots=True)
class Trace:
    """What one request cost; the data type code calls .cache() and .db() around each call.

    Outcomes: hit, miss, fallback (a read served by the database because Redis was
    unavailable), stale (Redis unavailable and the database failed: a last known good copy,
    resilience/last_known_good.py), write, error. `cache_failures` counts round trips Redis did not answer or
    the circuit breaker did not allow.
    """

    data_type: str
    operation: str
    latency: LatencyModel
    outcome: str = "hit"
    round_trips: int = 0
    db_queries: int = 0
    simulated_ms: float = 0.0
    measured_ms: float = 0.0
    cache_failures: int = 0
    guard: "CacheGuard | None" = field(default=None, repr=False)

    def cache(self, call: Callable[..., T], *args, **kwargs) -> T:
        """Run one Redis round trip (a command, a pipeline or a script) through the guard, if any."""
        if self.guard is not None:
            return self.guard.run(self, call, args, kwargs)
        return self.round_trip(call, args, kwargs)

    def round_trip(self, call: Callable[..., T], args: tuple, kwargs: dict) -> T:
        """One Redis round trip, counted and timed, without a guard."""
        self.round_trips += 1
        self.simulated_ms += self.latency.cache_round_trip()
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.measured_ms += (time.perf_counter() - started) * 1000

    def miss(self) -> None:
        """The cache did not have it (a read already falling back stays a fallback)."""
        if self.outcome != "fallback":
            self.outcome = "miss"

    def db(self, call: Callable[..., T], *args, **kwargs) -> T:
        """Run one database query (unless a database with a capacity refuses it: DatabaseUnavailable)."""
        try:
            self.simulated_ms += self.latency.database_query(write=self.outcome == "write")
        except DatabaseUnavailable as exc:
            self.simulated_ms += exc.waited_ms
            self.db_queries += not isinstance(exc, LoadShed)  # a shed read never reached the database
            raise
        self.db_queries += 1
        return self._timed(call, args, kwargs)

    def _timed(self, call, args, kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.measured_ms += (time.perf_counter() - started) * 1000


class RequestRecord(NamedTuple):
    """One row of the request log (a tuple: one is built for every request, hits included)."""

    seq: int
    at_ms: int
    data_type: str
    operation: str
    outcome: str
    round_trips: int
    db_queries: int
    simulated_ms: float
    measured_ms: float
    cache_failures: int = 0

    def describe(self) -> str:
        """One readable line, without the wall-clock time (which differs run to run)."""
        queries = f"{self.db_queries} database quer{'y' if self.db_queries == 1 else 'ies'}"
        trips = f"{self.round_trips} round trip{'' if self.round_trips == 1 else 's'}"
        failed = f", {self.cache_failures} cache call{'' if self.cache_failures == 1 else 's'} failed or refused" \
            if self.cache_failures else ""
        return (f"{self.data_type}.{self.operation}: {self.outcome}, {trips}, {queries}{failed}, "
                f"{self.simulated_ms:.1f} ms simulated")


class RequestLog(deque):
    """The newest request records, oldest first: a ring of at most `maxlen` (None keeps every one).

    It reads like the list it replaced: an index, a slice (a list copy) and equality with a list.
    """

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self)[index]
        return super().__getitem__(index)

    def __eq__(self, other) -> bool:
        return list(self) == other if isinstance(other, list) else super().__eq__(other)

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = None


@dataclass
class TypeSummary:
    """Totals for one data type (or 'overall'); `backend` names where they were produced, if known."""

    data_type: str
    requests: int = 0
    hits: int = 0
    misses: int = 0
    fallbacks: int = 0
    writes: int = 0
    errors: int = 0
    db_queries: int = 0
    round_trips: int = 0
    simulated_ms: float = 0.0
    measured_ms: float = 0.0
    cache_failures: int = 0
    served_stale: int = 0
    backend: str = ""

    @property
    def reads(self) -> int:
        return self.hits + self.misses + self.fallbacks + self.served_stale

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.reads if self.reads else 0.0

    @property
    def avg_simulated_ms(self) -> float:
        return self.simulated_ms / self.requests if self.requests else 0.0

    def add(self, record: RequestRecord) -> None:
        """Count one request. Attributes, not vars(self): a dict taken out of the instance slows
        every later attribute access of it, and this runs on every request."""
        self.requests += 1
        if record.outcome == "hit":  # the common case, without looking up the counter's name
            self.hits += 1
        else:
            name = _OUTCOME_COUNTERS[record.outcome]
            setattr(self, name, getattr(self, name) + 1)
        self.db_queries += record.db_queries
        self.round_trips += record.round_trips
        self.simulated_ms += record.simulated_ms
        self.measured_ms += record.measured_ms
        self.cache_failures += record.cache_failures


_COUNTED = [f.name for f in fields(TypeSummary) if f.name not in ("data_type", "backend")]


@dataclass
class Metrics:
    """Counters per data type plus a bounded request log that DuckDB can query.

    The counters (summary(), of()) count every request since the last reset(). The log keeps
    the newest `log_size` records (LOG_SIZE by default), so a long-running server does not
    grow without end; `log_size = None` keeps every record (an experiment that needs them
    all), `keep_log = False` none. `recording()` gives a block of code every record it made,
    whatever the log keeps.
    """

    latency: LatencyModel
    clock: Clock
    keep_log: bool = True
    guard: "CacheGuard | None" = field(default=None, repr=False)
    log: RequestLog = field(default_factory=lambda: RequestLog(maxlen=LOG_SIZE), repr=False)
    _totals: dict[str, TypeSummary] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _recorders: list[list[RequestRecord]] = field(default_factory=list, repr=False)

    _count: int = field(default=0, repr=False)

    @property
    def log_size(self) -> int | None:
        """How many of the newest records the log keeps (None: every one)."""
        return self.log.maxlen

    @log_size.setter
    def log_size(self, size: int | None) -> None:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise InvalidInput(f"log_size must be a whole number >= 0 or None (keep every record), got {size!r}")
        with self._lock:
            self.log = RequestLog(self.log, maxlen=size)  # keeps the newest records that fit

    @contextmanager
    def recording(self) -> Iterator[list[RequestRecord]]:
        """A list that receives every record made (in any thread) while the block runs."""
        records: list[RequestRecord] = []
        with self._lock:
            self._recorders.append(records)
        try:
            yield records
        finally:
            with self._lock:
                self._recorders = [kept for kept in self._recorders if kept is not records]

    def request(self, data_type: str, operation: str) -> "_Request":
        """Measure one request (a context manager yielding its Trace).

        An exception escaping it is recorded as outcome 'error', except NotFound escaping a
        read: that is the read's answer (often served from the negative cache), counted as
        its hit or miss; a write that finds nothing to change did fail.
        """
        return _Request(self, Trace(data_type, operation, self.latency, guard=self.guard))

    def _record(self, trace: Trace) -> None:
        with self._lock:
            record = _new_tuple(RequestRecord, (self._count, self.clock.now_ms(), trace.data_type, trace.operation,
                                                trace.outcome, trace.round_trips, trace.db_queries,
                                                trace.simulated_ms, trace.measured_ms, trace.cache_failures))
            self._count += 1
            totals = self._totals.get(trace.data_type)
            if totals is None:
                totals = self._totals[trace.data_type] = TypeSummary(trace.data_type)
            totals.add(record)
            if self.keep_log:
                self.log.append(record)
            for records in self._recorders:
                records.append(record)

    def summary(self) -> list[TypeSummary]:
        """One row per data type seen, in the seed's order, then an 'overall' row."""
        with self._lock:
            rows = [self._totals[t] for t in DATA_TYPES if t in self._totals]
            rows += [s for t, s in self._totals.items() if t not in DATA_TYPES]
        overall = TypeSummary("overall")
        for row in rows:
            for name in _COUNTED:
                setattr(overall, name, getattr(overall, name) + getattr(row, name))
        return [*rows, overall]

    def of(self, data_type: str) -> TypeSummary:
        """Totals of one data type (zeros if it has not been used)."""
        with self._lock:
            return self._totals.get(data_type, TypeSummary(data_type))

    def reset(self) -> None:
        with self._lock:
            self._count = 0
            self._totals.clear()
            self.log.clear()

    def to_duckdb(self, connection=None, table: str = "requests"):
        """Copy the request log (the records it keeps) into a DuckDB table and return the connection."""
        import duckdb  # here only: it takes about 0.2 s to load, and most runs never query the log

        con = connection if connection is not None else duckdb.connect()
        names = list(RequestRecord._fields)
        with self._lock:
            columns = {n: np.array([getattr(r, n) for r in self.log]) for n in names}
        con.register("_request_log", columns)
        # numpy strings would arrive as ENUMs; plain VARCHAR columns read better in SQL output
        select = ", ".join(f"CAST({n} AS VARCHAR) AS {n}" if columns[n].dtype.kind in "UO" else n for n in names)
        con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT {select} FROM _request_log')
        con.unregister("_request_log")
        return con


class _Request:
    """The context manager behind Metrics.request (a class: this runs on every cache hit)."""

    __slots__ = ("metrics", "trace")

    def __init__(self, metrics: Metrics, trace: Trace):
        self.metrics = metrics
        self.trace = trace

    def __enter__(self) -> Trace:
        return self.trace

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is not None and not (issubclass(kind, NotFound) and self.trace.outcome in READ_OUTCOMES):
            self.trace.outcome = "error"
        self.metrics._record(self.trace)
        return False


_SUMMARY_COLUMNS = (Column("data type", "<", width=10), Column("requests", format=",", width=9),
                    Column("reads", format=",", width=7), Column("writes", format=",", width=7),
                    Column("hit ratio", format=".1%"), Column("db queries", format=","),
                    Column("round trips", format=","), Column("avg sim ms", format=".1f"))
_REAL_MS = Column("avg real ms", format=".3f")


def format_summary(rows: list[TypeSummary], measured: bool = False) -> str:
    """A fixed-width table of requests, hit ratio, database queries and average simulated latency.

    Rows that name their backend (workload.measure's do) get it as the table's first line.
    """
    columns = _SUMMARY_COLUMNS + (_REAL_MS,) * measured
    cells = []
    for row in rows:
        cells += [RULE] * (row.data_type == "overall")
        cells.append(_summary_cells(row, measured))
    return format_table(columns, cells, rule="-", title=produced_on(rows))


def _summary_cells(row: TypeSummary, measured: bool) -> tuple:
    cells = (row.data_type, row.requests, row.reads, row.writes, row.hit_ratio, row.db_queries, row.round_trips,
             row.avg_simulated_ms)
    return cells + (row.measured_ms / row.requests if row.requests else 0,) * measured


def summary_dicts(rows: list[TypeSummary]) -> list[dict]:
    """Rows as plain dicts (with the derived ratios; the backend if the rows name one) for JSON or DataFrames."""
    return [{**{name: value for name, value in asdict(r).items() if name != "backend" or value},
             "hit_ratio": r.hit_ratio, "avg_simulated_ms": r.avg_simulated_ms} for r in rows]
