"""Measured latencies per backend, and the DuckDB questions checked against the Python metrics."""

from __future__ import annotations

import socket

import duckdb
import numpy as np
import pytest
import redis
import sqlalchemy as sa

from whatsapp_cache import InvalidInput, World
from whatsapp_cache.experiments.measure import (
    QUESTIONS,
    BackendSpec,
    ask,
    format_timings,
    measure_backends,
    seed_assumption,
)
from whatsapp_cache.metrics import DATA_TYPES
from whatsapp_cache.experiments.workload import WorkloadSpec, run

REQUESTS = 200


def measure(*specs: BackendSpec, **options):
    return measure_backends(list(specs), requests=REQUESTS, progress=False, **options)


def assert_sane(row) -> None:
    """Wall-clock figures are only checked for sanity: positive, ordered, all samples taken."""
    assert row.unavailable is None
    for stats in (row.hit, row.query, row.miss):
        assert stats.samples == REQUESTS
        assert 0 < stats.median_us <= stats.p99_us
    for stats in (row.hit, row.miss):  # the calls happen inside the timed span
        assert 0 < stats.in_calls_median_us <= stats.median_us
    assert (row.miss_round_trips, row.miss_db_queries) == (3, 1)  # HGETALL, GET generation, fill; one SELECT


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_embedded_backend_gives_one_sane_row():
    rows = measure(BackendSpec("embedded"))
    assert [row.name for row in rows] == ["embedded"]
    assert (rows[0].redis, rows[0].database) == ("fakeredis (in process)", "SQLite (in memory)")
    assert_sane(rows[0])
    table = format_timings(rows)
    assert table.splitlines()[2].startswith("embedded ")
    assert "seed's assumption" in table and "3,000" in table


def test_seed_assumption_is_the_uniform_tiers_exactly():
    seed = seed_assumption(miss_round_trips=3)
    assert (seed.hit.median_us, seed.hit.p99_us) == pytest.approx((3_000, 4_960))
    assert (seed.query.median_us, seed.query.p99_us) == pytest.approx((75_000, 99_500))
    assert seed.miss.median_us == pytest.approx(84_000)  # 3 x 3 ms + 75 ms, a symmetric sum
    assert seed.query.p99_us < seed.miss.p99_us < 75_000 + 3 * 5_000 + 25_000


def test_unreachable_redis_is_reported_not_raised():
    rows = measure(BackendSpec("Redis down", f"redis://127.0.0.1:{closed_port()}/0", "sqlite://"))
    assert rows[0].unavailable.startswith("ConnectionError")
    assert rows[0].hit is None
    assert "Redis down" in format_timings(rows) and "unavailable: ConnectionError" in format_timings(rows)


def test_tables_are_dropped_only_where_the_measurement_created_them(tmp_path):
    fresh, existing = (f"sqlite:///{tmp_path / name}" for name in ("fresh.db", "existing.db"))
    World(None, existing, dataset="tiny").close()
    rows = measure(BackendSpec("fresh file", None, fresh), BackendSpec("existing file", None, existing))
    assert all(row.unavailable is None for row in rows)
    for url, kept in ((fresh, False), (existing, True)):
        engine = sa.create_engine(url)
        assert sa.inspect(engine).has_table("users") is kept
        engine.dispose()


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10", 2_000_000])
def test_bad_request_count_is_invalid_input(bad):
    with pytest.raises(InvalidInput):
        measure_backends([BackendSpec("embedded")], requests=bad, progress=False)


@pytest.mark.parametrize("bad", [[], "embedded", ["embedded"], [("embedded", None, None)]])
def test_bad_backends_are_invalid_input(bad):
    with pytest.raises(InvalidInput):
        measure_backends(bad, requests=1, progress=False)


def test_bad_dataset_is_invalid_input():
    with pytest.raises(InvalidInput):
        measure(BackendSpec("embedded"), dataset="huge")


@pytest.mark.live
def test_live_backends_give_sane_rows_and_leave_nothing_behind(live_redis_url, live_database_url):
    rows = measure(BackendSpec("live Redis + SQLite", live_redis_url, "sqlite://"),
                   BackendSpec("live Redis + PostgreSQL", live_redis_url, live_database_url))
    assert [row.name for row in rows] == ["live Redis + SQLite", "live Redis + PostgreSQL"]
    for row in rows:
        assert_sane(row)
    client = redis.Redis.from_url(live_redis_url)
    assert list(client.scan_iter(match="measure:*")) == []
    client.close()
    engine = sa.create_engine(live_database_url)
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()


# --- the DuckDB questions on a seeded simulated workload ---

def workload_log(seed: int = 3):
    """A seeded workload on an embedded World: its metrics and the request log in DuckDB."""
    with World(None, None, dataset="tiny", seed=seed) as world:
        run(world, WorkloadSpec(actions=300, duration_s=3600, seed=seed))
        return world.metrics, world.metrics.to_duckdb()


@pytest.fixture
def seeded():
    return workload_log()  # per test: the autouse fixture has cleared the backend env vars by now


def by_type(rows) -> dict:
    return {row["data_type"]: row for row in rows}


def test_hit_ratio_agrees_with_the_metrics(seeded):
    metrics, con = seeded
    answer = by_type(ask(con, "hit_ratio"))
    assert list(answer) == [*(t for t in DATA_TYPES if metrics.of(t).requests), "overall"]
    for summary in metrics.summary():
        row = answer[summary.data_type]
        assert (row["reads"], row["hits"]) == (summary.reads, summary.hits)
        assert row["hit_ratio"] == pytest.approx(summary.hit_ratio, abs=5e-5)  # rounded to 4 places
    assert 0 < answer["overall"]["hit_ratio"] < 1


def test_hit_ratio_counts_stale_answers_as_reads_as_the_metrics_do():
    from whatsapp_cache.experiments.chaos import ChaosSpec, FakeOutage, run_chaos
    from whatsapp_cache.latency import DatabaseCapacity, LatencyModel
    from whatsapp_cache.resilience import FailurePolicy

    latency = LatencyModel(seed=0, database=DatabaseCapacity(3, shed_reads_at=0.8))
    with World(None, None, latency=latency, failure_policy=FailurePolicy(stale_if_error_ms=300_000,
                                                                         stale_first=True)) as world:
        report = run_chaos(world, FakeOutage(world, "down"), ChaosSpec(actions=600), audit=False)
        answer = by_type(ask(world.metrics.to_duckdb(), "hit_ratio"))
        assert report.served_stale > 0
        for summary in world.metrics.summary():
            assert (answer[summary.data_type]["reads"], answer[summary.data_type]["hits"]) == (summary.reads,
                                                                                              summary.hits)


def test_queries_saved_are_the_hits(seeded):
    metrics, con = seeded
    answer = by_type(ask(con, "queries_saved"))
    for summary in metrics.summary():
        row = answer[summary.data_type]
        assert row["queries_saved"] == summary.hits
        assert row["db_queries"] == summary.db_queries
        assert row["queries_without_cache"] == summary.db_queries + summary.hits
        assert row["fraction_saved"] == pytest.approx(summary.hits / (summary.db_queries + summary.hits), abs=5e-5)


def test_latency_percentiles_match_numpy_and_are_ordered(seeded):
    metrics, con = seeded
    answer = by_type(ask(con, "latency_percentiles"))
    for name, row in answer.items():
        latencies = [r.simulated_ms for r in metrics.log if name in ("overall", r.data_type)]
        summary = metrics.summary()[-1] if name == "overall" else metrics.of(name)
        assert row["requests"] == len(latencies) == summary.requests
        expected = np.percentile(latencies, [50, 90, 99])  # linear interpolation, as quantile_cont
        assert [row["p50_ms"], row["p90_ms"], row["p99_ms"]] == pytest.approx(expected, abs=0.005)
        assert row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]


def test_cost_per_outcome_adds_up(seeded):
    metrics, con = seeded
    rows = ask(con, "cost_per_outcome")
    for data_type in {row["data_type"] for row in rows}:
        assert sum(r["requests"] for r in rows if r["data_type"] == data_type) == metrics.of(data_type).requests
    hits = [row for row in rows if row["outcome"] == "hit"]
    assert hits and all((r["round_trips_per_request"], r["db_queries_per_request"]) == (1, 0) for r in hits)


def test_answers_repeat_for_the_same_seed(seeded):
    _, con = seeded
    _, again = workload_log()
    assert all(ask(con, name) == ask(again, name) for name in QUESTIONS)


def test_bad_questions_are_invalid_input(seeded):
    _, con = seeded
    with pytest.raises(InvalidInput, match="unknown question"):
        ask(con, "hit ratio")
    with pytest.raises(InvalidInput, match="DuckDB connection"):
        ask(object(), "hit_ratio")
    with pytest.raises(InvalidInput, match="requests"):
        ask(duckdb.connect(), "hit_ratio")


def test_every_printed_question_fits_a_laptop_pane():
    # chapter 07 prints the queries: a 136-character ORDER BY line overflowed its output pane
    widths = {name: max(len(line) for line in query.splitlines()) for name, query in QUESTIONS.items()}
    assert max(widths.values()) <= 100, widths
