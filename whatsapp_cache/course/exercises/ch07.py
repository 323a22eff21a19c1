"""Chapter 07's exercises: the cache fleet from item counts and sizes, and the mean read latency of a hit ratio.

Both are checked against the library's own models (experiments.capacity and experiments.loadmodel), on
the seed's numbers and on other inputs.
"""

from __future__ import annotations

import math

from ...experiments import capacity, loadmodel
from . import Case, expect, exercise

BYTES_PER_GB = 1_000_000_000  # the seed's units: 1 GB = 10^9 bytes, 1 TB = 1,000 GB (capacity.GB_PER_TB)
# The seed gives only a size per type; these counts x bytes each multiply to its sizes exactly.
SEED_ITEMS = {"sessions": (500_000_000, 1_000), "messages": (15_000_000_000, 1_000),
              "presence": (2_500_000_000, 100), "profiles": (2_000_000_000, 250),
              "groups": (500_000_000, 1_500)}


def _planned(items, buffer, ram_per_server_gb, replicas_per_master) -> tuple[int, int]:
    """(masters, servers) by the library's capacity.plan for the same inputs."""
    data_gb = {name: count * size / BYTES_PER_GB for name, (count, size) in items.items()}
    plan = capacity.plan(capacity.CapacityInputs(data_gb=data_gb, buffer=buffer, ram_per_server_gb=ram_per_server_gb,
                                                 replicas_per_master=replicas_per_master))
    return plan.masters, plan.cache_servers


def _fleet_case(items, buffer, ram_per_server_gb, replicas_per_master):
    def run(cache_fleet, _bench) -> None:
        expected = _planned(items, buffer, ram_per_server_gb, replicas_per_master)
        got = cache_fleet(items, buffer, ram_per_server_gb, replicas_per_master)
        called = f"cache_fleet({items!r}, buffer={buffer}, ram_per_server_gb={ram_per_server_gb}, " \
                 f"replicas_per_master={replicas_per_master})"
        expect(_as_pair(got) == expected, called, got, f"{expected} (masters, servers), as capacity.plan() gives")
    return run


def _as_pair(value) -> tuple | None:
    try:
        masters, servers = value
    except (TypeError, ValueError):
        return None
    return masters, servers


OTHER_FLEETS = [  # (items, buffer, RAM per server, replicas)
    (SEED_ITEMS, 0.2, 256, 2),
    (SEED_ITEMS, 0.2, 1_024, 1),
    ({"sessions": (1_000_000, 2_000)}, 0.2, 512, 2),
    ({"profiles": (300_000_000, 700), "messages": (4_000_000_000, 450)}, 0.35, 384, 1),
]


def _other_fleets(cache_fleet, bench) -> None:
    for items, buffer, ram, replicas in OTHER_FLEETS:
        _fleet_case(items, buffer, ram, replicas)(cache_fleet, bench)


@exercise("cache_fleet", "07", "the cache fleet from item counts and sizes",
          hint="GB = sum of count x bytes / 10**9 (the seed's units); RAM = GB x (1 + buffer); "
               "masters = ceil(RAM / RAM per server); servers = masters x (1 + replicas).")
def _cache_fleet_cases() -> list[Case]:
    exact = {"chats": (2_048_000_000, 1_000)}  # 2,048 GB; with a 25% buffer exactly 5 servers of 512 GB
    return [Case("the seed's sizes give its 40 masters and 120 servers",
                 _fleet_case(SEED_ITEMS, 0.2, 512, 2)),
            Case("data that exactly fills its servers needs no extra one",
                 _fleet_case(exact, 0.25, 512, 1)),
            Case("without replicas the servers are the masters", _fleet_case(SEED_ITEMS, 0.2, 512, 0)),
            Case("other sizes, buffers, servers and replicas agree with capacity.plan()", _other_fleets)]


def _model_mean(hit_ratio: float, cache_ms: float, database_ms: float) -> float:
    """The library's mean: a hit is one cache round trip; a miss pays its cache check, then the database."""
    inputs = loadmodel.LoadInputs(hit_ratios=hit_ratio, cache_ms=(cache_ms, cache_ms),
                                  database_ms=(database_ms, database_ms))
    return loadmodel.mean_ms(loadmodel.read_latency(inputs, hit_ratio))


def _mean_case(*points: tuple[float, float, float]):
    def run(mean_read_latency, _bench) -> None:
        for hit_ratio, cache_ms, database_ms in points:
            expected = _model_mean(hit_ratio, cache_ms, database_ms)
            got = mean_read_latency(hit_ratio, cache_ms, database_ms)
            ok = isinstance(got, (int, float)) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
            expect(ok, f"mean_read_latency({hit_ratio}, {cache_ms}, {database_ms})", got,
                   f"{expected:g} ms, as loadmodel gives")
    return run


def _refuses_bad_ratios(mean_read_latency, _bench) -> None:
    for bad in (80, 1.2, -0.1):
        try:
            got = mean_read_latency(bad, 3, 75)
        except ValueError:
            continue
        expect(False, f"mean_read_latency({bad}, 3, 75)", got,
               "a ValueError: a hit ratio is a fraction from 0 to 1 (80% is 0.8)")


@exercise("mean_read_latency", "07", "the mean read latency of a hit ratio",
          hint="a hit costs one cache round trip; a miss costs its failed cache check plus the database: "
               "h x cache + (1 - h) x (cache + database); raise ValueError unless 0 <= h <= 1.")
def _mean_read_latency_cases() -> list[Case]:
    return [Case("when every read hits, a read costs one cache round trip", _mean_case((1.0, 3, 75))),
            Case("when every read misses, it pays the cache check and the database", _mean_case((0.0, 3, 75))),
            Case("the seed's 80% at the middles of its ranges gives 18 ms", _mean_case((0.8, 3, 75))),
            Case("other hit ratios and latencies agree with loadmodel",
                 _mean_case((0.95, 0.5, 2.0), (0.5, 1, 100), (0.7251, 4.2, 61.3))),
            Case("a hit ratio outside 0..1 is refused", _refuses_bad_ratios)]


def _model_servers(writes_per_s: float, hit_ratio: float, write_fraction_to_db: float,
                   writes_per_server: float) -> int:
    """The library's database servers after the cache: sized by the writes that still reach the database."""
    inputs = loadmodel.LoadInputs(hit_ratios=hit_ratio, writes_per_s=writes_per_s,
                                  write_fraction_to_db=write_fraction_to_db, db_writes_per_server=writes_per_server)
    return loadmodel.evaluate(inputs).db_servers_after


def _servers_case(*points: tuple[float, float, float, float]):
    def run(database_servers, _bench) -> None:
        for point in points:
            expected, got = _model_servers(*point), database_servers(*point)
            expect(got == expected, f"database_servers{point}", got, f"{expected} servers, as loadmodel gives")
    return run


SEED_WRITES = 694_000  # Step 1's writes per second; 10,000 writes/s per database server
SEED_SHARE = 14 * 10_000 / SEED_WRITES  # 20.2%: the share of writes 14 servers can take
MEASURED_SHARE = 474 / 988  # section 3: write-behind sent 474 of 988 writes to the database


@exercise("database_servers", "07", "database servers after a read cache",
          hint="servers = ceil(writes x write_fraction_to_db / writes_per_server): the hit ratio is a read "
               "figure and changes nothing here; round the quotient to 9 places before ceil.")
def _database_servers_cases() -> list[Case]:
    return [Case("the seed's inputs, every write reaching the database: 70 servers",
                 _servers_case((SEED_WRITES, 0.8, 1.0, 10_000))),
            Case("the hit ratio changes nothing: a read cache removes no writes",
                 _servers_case((SEED_WRITES, 0.0, 1.0, 10_000), (SEED_WRITES, 0.99, 1.0, 10_000))),
            Case("with 20.2% of the writes reaching the database, the seed's 14 servers",
                 _servers_case((SEED_WRITES, 0.8, SEED_SHARE, 10_000))),
            Case("with write-behind's measured 48.0%, 34 servers",
                 _servers_case((SEED_WRITES, 0.8, MEASURED_SHARE, 10_000))),
            Case("other loads agree with loadmodel",
                 _servers_case((1_000, 0.5, 1.0, 10_000), (250_000, 0.9, 0.3, 4_000), (0, 0.8, 1.0, 10_000)))]
