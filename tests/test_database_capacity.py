"""A database that can saturate: M/M/1-style delay below capacity, failures past it, load shedding."""

import pytest

from whatsapp_cache import InvalidInput, LatencyModel, World
from whatsapp_cache.clock import SimulatedClock
from whatsapp_cache.experiments.chaos import ChaosSpec, FakeOutage, failure_kinds, run_chaos
from whatsapp_cache.latency import (SEED_HEADROOM, DatabaseCapacity, DatabaseOverloaded, LoadShed, seed_capacity)


def database(qps=10.0, **kwargs):
    """A capacity of `qps` on a fresh simulated clock (window 10 s: 100 queries fill it at 10/s)."""
    return DatabaseCapacity(qps, clock=SimulatedClock(), **kwargs)


def test_the_seed_s_fleet_runs_at_3_7_of_its_capacity_with_the_cache():
    assert SEED_HEADROOM == pytest.approx(700_000 / 300_000)
    assert seed_capacity(6.0) == pytest.approx(14.0)
    with pytest.raises(InvalidInput):
        seed_capacity(0)


def test_an_idle_database_answers_in_its_unloaded_time():
    db = database()
    assert db.query(80.0) == pytest.approx(80.0 / (1 - 1 / 100))  # rho counts this query: 1 of 100


@pytest.mark.parametrize("queued, factor", [(49, 2.0), (79, 5.0), (89, 10.0)])
def test_below_capacity_a_query_takes_its_time_over_one_minus_rho(queued, factor):
    db = database()
    for _ in range(queued):
        db.query(1.0)
    assert db.query(50.0) == pytest.approx(50.0 * factor)  # rho = (queued + 1) / 100


def test_the_delay_stops_at_the_timeout():
    db = database(timeout_ms=400.0)
    for _ in range(98):
        db.query(1.0)
    assert db.query(50.0) == 400.0  # 50 / (1 - 0.99) = 5,000 ms, cut at the queue's bound


def test_past_capacity_only_capacity_s_worth_is_served_the_rest_fail():
    db = database()
    outcomes = []
    for _ in range(400):  # all at one instant: rho climbs to 4
        try:
            outcomes.append(db.query(50.0))
        except DatabaseOverloaded as exc:
            assert exc.waited_ms == db.timeout_ms
            outcomes.append(None)
    assert db.stats.served + db.stats.overloaded == 400
    assert outcomes[:99] == [pytest.approx(min(50.0 / (1 - (k + 1) / 100), 2_000.0)) for k in range(99)]
    assert 0 < db.stats.overloaded < 300  # served with probability 1/rho past capacity
    assert all(ms in (None, db.timeout_ms) for ms in outcomes[99:])


def test_the_load_is_measured_over_a_sliding_window():
    db = database()
    for _ in range(50):
        db.query(1.0)
    assert db.utilisation() == pytest.approx(0.5)
    db.clock.advance(10_000)
    assert db.utilisation() == 0.0


def test_load_shedding_refuses_reads_at_once_and_lets_writes_through():
    db = database(shed_reads_at=0.8)
    for _ in range(80):
        db.query(1.0)
    with pytest.raises(LoadShed) as shed:
        db.query(50.0)
    assert shed.value.waited_ms == 0 and db.stats.shed == 1
    assert db.query(50.0, write=True) == pytest.approx(50.0 / (1 - 0.81))
    assert db.utilisation() == pytest.approx(0.81)  # the shed read never reached the database


def test_without_a_capacity_the_database_never_saturates():
    model = LatencyModel(seed=0)
    assert all(50 <= model.database_query() <= 100 for _ in range(1_000))


@pytest.mark.parametrize("kwargs", [{"queries_per_s": 0}, {"queries_per_s": float("inf")}, {"timeout_ms": -1},
                                    {"window_ms": 0}, {"window_ms": 1.5}, {"shed_reads_at": 0},
                                    {"shed_reads_at": 1.5}, {"queries_per_s": True}], ids=repr)
def test_bad_capacity_input_raises_invalid_input(kwargs):
    with pytest.raises(InvalidInput):
        DatabaseCapacity(**{"queries_per_s": 10.0, **kwargs})


def test_a_capacity_without_a_clock_is_refused_when_used():
    with pytest.raises(InvalidInput):
        DatabaseCapacity(10.0).query(50.0)


# The seed's Q2 under a database with the seed's headroom -------------------------------------------

SPEC = ChaosSpec(actions=1_200, duration_s=300, outage_from_s=100, outage_until_s=200)


@pytest.fixture(scope="module")
def unlimited():
    """The outage on a database of infinite capacity (the library's default)."""
    world = World()
    return run_chaos(world, FakeOutage(world, "down"), SPEC)


@pytest.fixture(scope="module")
def capacity(unlimited):
    """The seed's headroom over this workload's database load while the cache works."""
    return seed_capacity(unlimited.phase("before").db_queries_per_s)


def outage_run(capacity, shed=None):
    world = World(latency=LatencyModel(seed=0, database=DatabaseCapacity(capacity, shed_reads_at=shed)))
    return run_chaos(world, FakeOutage(world, "down"), SPEC), world.latency.database.stats


@pytest.fixture(scope="module")
def overloaded(capacity):
    return outage_run(capacity)


def test_a_redis_outage_overloads_a_database_sized_like_the_seed_s(unlimited, overloaded):
    assert unlimited.failed == 0  # infinite capacity: "slower but functional" by construction
    report, stats = overloaded
    during = report.phase("during")
    assert during.failed > 0 and failure_kinds(report) == {"DatabaseOverloaded": stats.overloaded}
    assert during.p50_simulated_ms > 5 * unlimited.phase("during").p50_simulated_ms
    assert report.phase("before").failed == 0


def test_shedding_reads_keeps_the_served_requests_fast(capacity, overloaded):
    shed, stats = outage_run(capacity, shed=0.8)
    assert stats.overloaded == 0 and stats.shed > 0
    assert set(failure_kinds(shed)) == {"LoadShed"}
    for percentile in ("p50_simulated_ms", "p99_simulated_ms"):
        assert getattr(shed.phase("during"), percentile) < getattr(overloaded[0].phase("during"), percentile)
    assert shed.lost_writes == 0 and shed.stale == 0


def test_a_redis_back_empty_must_warm_up():
    world = World()
    report = run_chaos(world, FakeOutage(world, "lost"), SPEC)
    assert report.failed == 0 and report.stale == 0
    assert report.timeline[SPEC.outage_until_s // SPEC.bucket_s].hit_ratio < report.steady_hit_ratio
