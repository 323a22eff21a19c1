"""A latency and load model of the seed's cache: its arithmetic reproduced, then what it leaves out.

    read  --> cache --hit (h)----------------------------------> cache round trip
                    \\--miss (1 - h)--> database --> fill -----> cache check(s) + database query
    write ----------------------------> database (every one, unless write-behind coalesces them)

The seed ("Step 2: Adding Caching Layer") gives the cache 1-5 ms and the database 50-100 ms (top of
the text), an 80% hit ratio and "Average latency: (0.8 x 5ms) + (0.2 x 100ms) = 24ms" (line 98),
1.5 M requests/s of which 300 K still reach the database ("Performance Impact: Before vs After"), and
70 -> 14 database servers from 694 K -> 139 K writes/s at 10 K writes/s each ("Cost Savings").

Its arithmetic takes each tier's worst case and cuts the writes by the read hit ratio. The model
also gives the mean (the ranges' midpoints), exact p50 and p99 of the uniform tiers, and the
database load a read cache really leaves: the misses plus every write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from numbers import Integral, Real
from types import MappingProxyType
from typing import Mapping

from ..errors import InvalidInput
from ..metrics import DATA_TYPES
from ..tables import RULE, Column, format_table, table_lines
from .workload import SEED_HIT_RATIOS

SEED_OVERALL_HIT_RATIO = 0.80  # seed: "80% of requests served from cache with 1-5ms latency"
MAX_CACHE_CHECKS = 10
Range = tuple[float, float]
Mixture = tuple[tuple[float, tuple[Range, ...]], ...]  # (weight, tiers summed on that path)


def checked_number(value: object, what: str, low: float = 0.0, high: float = math.inf) -> float:
    """`value` as a float if it is a finite real number from `low` to `high`, else InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or not low <= value <= high:
        limits = f"at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
        raise InvalidInput(f"{what} must be a finite number {limits}, got {value!r}")
    return float(value)


def positive_number(value: object, what: str) -> float:
    """`value` as a float if it is a finite real number above zero, else InvalidInput."""
    number = checked_number(value, what)
    if number == 0:
        raise InvalidInput(f"{what} must be greater than zero, got {value!r}")
    return number


def checked_count(value: object, what: str, high: int) -> int:
    """`value` if it is a whole number from 0 to `high`, else InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from 0 to {high}, got {value!r}")
    return int(value)


def servers_needed(load: float, per_server: float) -> int:
    """Whole servers for `load`; a float hair above a whole number (69.999...) does not add one."""
    return math.ceil(round(load / per_server, 9))


def reduction(before: float, after: float) -> float:
    """The fraction by which `after` is below `before` (0 when there was nothing before)."""
    return 1 - after / before if before else 0.0


def _latency_range(value: object, what: str) -> Range:
    """A (low, high) pair of milliseconds with 0 <= low <= high."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InvalidInput(f"{what} must be a (low, high) pair of milliseconds, got {value!r}")
    low, high = (checked_number(v, what) for v in value)
    if low > high:
        raise InvalidInput(f"{what} must have low <= high, got {value!r}")
    return (low, high)


def _per_type(value: object, what: str) -> dict[str, float]:
    """A mapping of known data types to fractions from 0 to 1, in the seed's order."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput(f"{what} must be a non-empty mapping of data type to fraction, got {value!r}")
    unknown = sorted(set(map(str, value)) - set(DATA_TYPES))
    if unknown:
        raise InvalidInput(f"{what}: unknown data type(s) {unknown}; known: {list(DATA_TYPES)}")
    return {t: checked_number(value[t], f"{what}[{t}]", 0, 1) for t in DATA_TYPES if t in value}


def _read_mix(value: object) -> Mapping[str, float]:
    """Read shares per data type that add up to 1, read-only."""
    shares = _per_type(value, "read_mix")
    if not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6):
        raise InvalidInput(f"read_mix shares must add up to 1, got {sum(shares.values()):g}")
    return MappingProxyType(shares)


def _hit_ratios(value: object, mix: Mapping[str, float]) -> Mapping[str, float]:
    """One ratio for every type in the mix, from a mapping or from one overall number."""
    if isinstance(value, Real) and not isinstance(value, bool):
        value = dict.fromkeys(mix, checked_number(value, "hit_ratios", 0, 1))
    ratios = _per_type(value, "hit_ratios")
    missing = [t for t in mix if t not in ratios]
    if missing:
        raise InvalidInput(f"hit_ratios has no ratio for {missing}, which read_mix uses")
    return MappingProxyType({t: ratios[t] for t in mix})


@dataclass(frozen=True)
class LoadInputs:
    """The model's inputs; every default is the seed's except the read mix, which the seed never gives.

    `hit_ratios` is one ratio per data type (default the seed's per-type table: sessions 95%,
    presence 100%, messages 70%, profiles 90%, groups 85%) or one number for all of them (the seed's
    80%). `reads_per_s` is the seed's 1.5 M "requests": it applies the hit ratio to all of them, so
    they are reads; its 694 K writes/s come from Step 1. `write_fraction_to_db` is the share of writes
    that reach the database (1: all of them; write-behind that merges repeated updates of one key
    lowers it; new messages are each a row, so batching them lowers the cost per write, not the rows).
    `cache_checks_per_miss` is the cache round trips a miss pays before the database (the failed GET;
    2 if the fill is waited for); the seed's arithmetic counts none.
    """

    read_mix: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(DATA_TYPES, 1 / len(DATA_TYPES)))
    hit_ratios: Mapping[str, float] | float = field(default_factory=lambda: dict(SEED_HIT_RATIOS))
    cache_ms: Range = (1.0, 5.0)
    database_ms: Range = (50.0, 100.0)
    cache_checks_per_miss: int = 1
    reads_per_s: float = 1_500_000
    writes_per_s: float = 694_000
    db_writes_per_server: float = 10_000
    write_fraction_to_db: float = 1.0

    def __post_init__(self) -> None:
        mix = _read_mix(self.read_mix)
        checked = {
            "read_mix": mix,
            "hit_ratios": _hit_ratios(self.hit_ratios, mix),
            "cache_ms": _latency_range(self.cache_ms, "cache_ms"),
            "database_ms": _latency_range(self.database_ms, "database_ms"),
            "cache_checks_per_miss": checked_count(self.cache_checks_per_miss, "cache_checks_per_miss",
                                                   MAX_CACHE_CHECKS),
            "reads_per_s": checked_number(self.reads_per_s, "reads_per_s"),
            "writes_per_s": checked_number(self.writes_per_s, "writes_per_s"),
            "db_writes_per_server": positive_number(self.db_writes_per_server, "db_writes_per_server"),
            "write_fraction_to_db": checked_number(self.write_fraction_to_db, "write_fraction_to_db", 0, 1),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)


def seed_inputs() -> LoadInputs:
    """The seed's "Performance Impact" inputs: one 80% hit ratio over 1.5 M reads/s and 694 K writes/s."""
    return LoadInputs(hit_ratios=SEED_OVERALL_HIT_RATIO)


def overall_hit_ratio(inputs: LoadInputs) -> float:
    """The read-weighted hit ratio over the data types."""
    return sum(share * inputs.hit_ratios[t] for t, share in inputs.read_mix.items())


def read_latency(inputs: LoadInputs, hit_ratio: float) -> Mixture:
    """A read's latency as a mixture: one cache round trip on a hit; cache check(s) then the database on a miss."""
    miss_path = (inputs.cache_ms,) * inputs.cache_checks_per_miss + (inputs.database_ms,)
    return ((hit_ratio, (inputs.cache_ms,)), (1 - hit_ratio, miss_path))


def uncached_latency(inputs: LoadInputs) -> Mixture:
    """Step 1, before the cache: every read is one database query."""
    return ((1.0, (inputs.database_ms,)),)


def mean_ms(mixture: Mixture) -> float:
    """The exact mean: each uniform tier contributes its midpoint."""
    return sum(weight * sum((low + high) / 2 for low, high in path) for weight, path in mixture)


def worst_case_ms(mixture: Mixture) -> float:
    """The seed's arithmetic: every path weighted at the top of each of its tiers."""
    return sum(weight * sum(high for _, high in path) for weight, path in mixture)


def cdf(mixture: Mixture, x: float) -> float:
    """P(latency <= x), exactly."""
    return sum(weight * _sum_of_uniforms_cdf(path, x) for weight, path in mixture if weight > 0)


def quantile(mixture: Mixture, q: float) -> float:
    """The smallest latency x with P(latency <= x) >= q, by bisection on the exact CDF."""
    q = checked_number(q, "quantile", 0, 1)
    paths = [path for weight, path in mixture if weight > 0]
    low = min(sum(lo for lo, _ in path) for path in paths)
    high = max(sum(hi for _, hi in path) for path in paths)
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (low, middle) if cdf(mixture, middle) >= q else (middle, high)
    return high


def _sum_of_uniforms_cdf(ranges: tuple[Range, ...], x: float) -> float:
    """P(sum of independent uniforms <= x): the volume of a box cut by a simplex, by inclusion-exclusion."""
    t = x - sum(low for low, _ in ranges)
    widths = [high - low for low, high in ranges if high > low]
    if t < 0:
        return 0.0
    if t >= sum(widths):
        return 1.0
    n = len(widths)
    volume = sum((-1) ** len(subset) * max(t - sum(subset), 0.0) ** n
                 for k in range(n + 1) for subset in combinations(widths, k))
    return volume / (math.factorial(n) * math.prod(widths))


@dataclass(frozen=True)
class LoadReport:
    """Every figure of the seed's "Performance Impact" section, by the seed's arithmetic and by the model.

    Fields named seed_* follow the seed's arithmetic (worst case per tier, writes cut by the hit
    ratio); the rest are the model's (uniform tiers, every write not coalesced reaches the database).
    """

    hit_ratio: float
    seed_before_ms: float
    seed_after_ms: float
    before_mean_ms: float
    before_p50_ms: float
    before_p99_ms: float
    after_mean_ms: float
    after_p50_ms: float
    after_p99_ms: float
    reads_per_s: float
    db_reads_after: float
    writes_per_s: float
    seed_writes_after: float
    writes_to_db: float
    db_writes_per_server: float
    db_servers_before: int
    seed_db_servers_after: int
    db_servers_after: int

    @property
    def seed_latency_reduction(self) -> float:
        return reduction(self.seed_before_ms, self.seed_after_ms)

    @property
    def latency_reduction(self) -> float:
        return reduction(self.before_mean_ms, self.after_mean_ms)

    @property
    def db_read_reduction(self) -> float:
        return reduction(self.reads_per_s, self.db_reads_after)

    @property
    def db_load_before(self) -> float:
        return self.reads_per_s + self.writes_per_s

    @property
    def db_load_after(self) -> float:
        """Misses plus the writes that reach the database."""
        return self.db_reads_after + self.writes_to_db

    @property
    def db_load_reduction(self) -> float:
        return reduction(self.db_load_before, self.db_load_after)

    @property
    def write_fraction_for_seed_servers(self) -> float:
        """The largest share of writes that may reach the database for the seed's "after" server count."""
        if self.writes_per_s == 0:
            return 1.0
        return min(1.0, self.seed_db_servers_after * self.db_writes_per_server / self.writes_per_s)


def evaluate(inputs: LoadInputs | None = None) -> LoadReport:
    """The seed's figures by its arithmetic, and the model's, for `inputs` (default: `seed_inputs()`)."""
    inputs = seed_inputs() if inputs is None else inputs
    hit = overall_hit_ratio(inputs)
    before, after = uncached_latency(inputs), read_latency(inputs, hit)
    seed_after = ((hit, (inputs.cache_ms,)), (1 - hit, (inputs.database_ms,)))  # no cache check on a miss
    seed_writes_after = inputs.writes_per_s * (1 - hit)  # the seed's slip: writes cut by the read hit ratio
    writes_to_db = inputs.writes_per_s * inputs.write_fraction_to_db
    per_server = inputs.db_writes_per_server
    return LoadReport(
        hit, worst_case_ms(before), worst_case_ms(seed_after),
        mean_ms(before), quantile(before, 0.5), quantile(before, 0.99),
        mean_ms(after), quantile(after, 0.5), quantile(after, 0.99),
        inputs.reads_per_s, inputs.reads_per_s * (1 - hit), inputs.writes_per_s, seed_writes_after,
        writes_to_db, per_server, servers_needed(inputs.writes_per_s, per_server),
        servers_needed(seed_writes_after, per_server), servers_needed(writes_to_db, per_server))


@dataclass(frozen=True)
class TypeLoad:
    """One data type's reads: how they split between the tiers and what they cost."""

    data_type: str
    read_share: float
    hit_ratio: float
    reads_per_s: float
    cache_hits_per_s: float
    db_reads_per_s: float
    cache_tier_ms: float
    database_tier_ms: float
    p50_ms: float
    p99_ms: float

    @property
    def mean_ms(self) -> float:
        return self.cache_tier_ms + self.database_tier_ms


def breakdown(inputs: LoadInputs | None = None) -> list[TypeLoad]:
    """One row per data type in the read mix, then 'overall': reads per tier and mean time in each tier."""
    inputs = seed_inputs() if inputs is None else inputs
    rows = [_type_load(inputs, t, share, inputs.hit_ratios[t]) for t, share in inputs.read_mix.items()]
    return [*rows, _type_load(inputs, "overall", 1.0, overall_hit_ratio(inputs))]


def _type_load(inputs: LoadInputs, data_type: str, share: float, hit: float) -> TypeLoad:
    """One row of the breakdown: `share` of the reads at hit ratio `hit`."""
    reads = inputs.reads_per_s * share
    cache_mid, database_mid = (sum(inputs.cache_ms) / 2, sum(inputs.database_ms) / 2)
    cache_trips = hit + (1 - hit) * inputs.cache_checks_per_miss
    latency = read_latency(inputs, hit)
    return TypeLoad(data_type, share, hit, reads, reads * hit, reads * (1 - hit), cache_trips * cache_mid,
                    (1 - hit) * database_mid, quantile(latency, 0.5), quantile(latency, 0.99))


_BREAKDOWN_COLUMNS = (
    Column("data type", "<", width=10), Column("share", format=".1%", width=6), Column("hit ratio", format=".1%"),
    Column("reads/s", format=",.0f", width=11), Column("cache hits/s", format=",.0f"),
    Column("db reads/s", format=",.0f", width=11), Column("cache ms", format=".2f"),
    Column("db ms", format=".2f", width=6),
    *(Column(name, format=".2f", width=7) for name in ("mean ms", "p50 ms", "p99 ms")))


def format_breakdown(rows: list[TypeLoad]) -> str:
    """A fixed-width table: share, hit ratio, reads per tier, mean ms per tier, p50 and p99."""
    cells = []
    for row in rows:
        cells += [RULE] * (row.data_type == "overall")
        cells.append((row.data_type, row.read_share, row.hit_ratio, row.reads_per_s, row.cache_hits_per_s,
                      row.db_reads_per_s, row.cache_tier_ms, row.database_tier_ms, row.mean_ms, row.p50_ms, row.p99_ms))
    return format_table(_BREAKDOWN_COLUMNS, cells, rule="-")


def format_report(report: LoadReport) -> str:
    """The seed's figures by its own arithmetic beside the model's, as a fixed-width table."""
    r = report
    rows = [
        ("hit ratio", f"{r.hit_ratio:.1%}", f"{r.hit_ratio:.1%}"),
        ("latency before (ms)", f"{r.seed_before_ms:.1f}", f"{r.before_mean_ms:.1f}"),
        ("latency after (ms)", f"{r.seed_after_ms:.1f}", f"{r.after_mean_ms:.1f}"),
        ("latency reduction", f"{r.seed_latency_reduction:.1%}", f"{r.latency_reduction:.1%}"),
        ("p50 before / after (ms)", "-", f"{r.before_p50_ms:.1f} / {r.after_p50_ms:.1f}"),
        ("p99 before / after (ms)", "-", f"{r.before_p99_ms:.1f} / {r.after_p99_ms:.1f}"),
        ("database reads/s before", f"{r.reads_per_s:,.0f}", f"{r.reads_per_s:,.0f}"),
        ("database reads/s after", f"{r.db_reads_after:,.0f}", f"{r.db_reads_after:,.0f}"),
        ("database writes/s after", f"{r.seed_writes_after:,.0f}", f"{r.writes_to_db:,.0f}"),
        ("database load/s after", f"{r.db_reads_after:,.0f}", f"{r.db_load_after:,.0f}"),
        ("database load reduction", f"{r.db_read_reduction:.1%}", f"{r.db_load_reduction:.1%}"),
        ("database servers before", f"{r.db_servers_before}", f"{r.db_servers_before}"),
        ("database servers after", f"{r.seed_db_servers_after}", f"{r.db_servers_after}"),
    ]
    columns = (Column("figure", "<", width=26), Column("seed arithmetic", width=16), Column("model", width=18))
    lines = table_lines(columns, [*rows, RULE], rule="-")
    lines += [
        "seed arithmetic: each tier's worst case; writes cut by the read hit ratio.",
        "model: mean of uniform tiers (a miss also pays its cache check), exact p50/p99;",
        f"  database load = misses + writes reaching it; servers sized by writes at "
        f"{r.db_writes_per_server:,.0f}/s each.",
        f"{r.seed_db_servers_after} servers after need at most {r.write_fraction_for_seed_servers:.1%} "
        f"of writes to reach the database (write-behind coalescing).",
    ]
    return "\n".join(lines)
