"""Metrics: per-type counters, the request log in DuckDB, and errors recorded as such."""

import pytest

from support import SMALL_CHAT, counts

from whatsapp_cache import InvalidInput, NotFound
from whatsapp_cache.experiments.faults import unreachable
from whatsapp_cache.metrics import DATA_TYPES, format_summary, summary_dicts


def small_workload(world) -> None:
    token = world.sessions.login("u000001")
    for _ in range(3):
        world.sessions.authenticate(token)
        world.sessions.authenticate(world.dataset.session_token("u000002"))
    world.presence.heartbeat("u000001")
    world.presence.online_among(["u000001", "u000002"])
    world.presence.online_among(["u000001", "u000002"])
    for user in ("u000001", "u000002", "u000001", "u000003", "u000001"):
        world.profiles.get(user)
    with pytest.raises(NotFound):
        world.profiles.get("nobody")
    for _ in range(3):
        world.messages.recent(SMALL_CHAT)
    world.messages.send(SMALL_CHAT, "u000003", "hello")
    world.groups.members("g00002")
    world.groups.members("g00002")
    world.clock.advance(2 * 3600 * 1000)
    world.messages.recent(SMALL_CHAT)


def test_request_log_lands_in_duckdb(world):
    small_workload(world)
    con = world.metrics.to_duckdb()
    assert con.execute("SELECT count(*) FROM requests").fetchone()[0] == len(world.metrics.log) > 20
    columns = [row[0] for row in con.execute("DESCRIBE requests").fetchall()]
    assert columns == ["seq", "at_ms", "data_type", "operation", "outcome", "round_trips", "db_queries",
                       "simulated_ms", "measured_ms", "cache_failures"]
    assert con.execute("SELECT min(seq), max(seq) FROM requests").fetchone() == (0, len(world.metrics.log) - 1)


def test_sql_hit_ratio_per_type_equals_the_summary(world):
    small_workload(world)
    con = world.metrics.to_duckdb()
    rows = con.execute("""
        SELECT data_type,
               coalesce(sum(CASE WHEN outcome = 'hit' THEN 1 ELSE 0 END)::DOUBLE
                        / nullif(sum(CASE WHEN outcome IN ('hit', 'miss') THEN 1 ELSE 0 END), 0), 0),
               count(*), sum(db_queries), sum(round_trips)
        FROM requests GROUP BY data_type""").fetchall()
    from_sql = {t: (ratio, n, q, r) for t, ratio, n, q, r in rows}
    summary = {s.data_type: s for s in world.metrics.summary() if s.data_type != "overall"}
    assert set(from_sql) == set(summary) == set(DATA_TYPES)
    for data_type, s in summary.items():
        ratio, n, queries, trips = from_sql[data_type]
        assert ratio == pytest.approx(s.hit_ratio)
        assert (n, queries, trips) == (s.requests, s.db_queries, s.round_trips)
    assert 0 < summary["profiles"].hit_ratio < 1


def test_to_duckdb_uses_a_given_connection_and_table(world):
    import duckdb
    world.profiles.get("u000001")
    con = duckdb.connect()
    assert world.metrics.to_duckdb(con, table="log") is con
    assert con.execute("SELECT data_type, outcome FROM log").fetchall() == [("profiles", "miss")]


def test_empty_log_gives_an_empty_table(world):
    world.metrics.reset()
    assert world.metrics.to_duckdb().execute("SELECT count(*) FROM requests").fetchone()[0] == 0


def test_error_outcome_is_recorded_when_an_exception_escapes(world, monkeypatch):
    with pytest.raises(NotFound):
        world.profiles.update("nobody", username="x")
    with pytest.raises(InvalidInput):
        world.messages.send(SMALL_CHAT, "u000001", "not a participant")
    monkeypatch.setattr(world.repo, "group_roster", lambda group_id: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        world.groups.members("g00002")
    assert [(r.data_type, r.operation, r.outcome) for r in world.metrics.log] == [
        ("profiles", "update", "error"), ("messages", "send", "error"), ("groups", "members", "error")]
    assert (counts(world, "profiles").errors, counts(world, "messages").errors, counts(world, "groups").errors) \
        == (1, 1, 1)
    con = world.metrics.to_duckdb()
    assert con.execute("SELECT count(*) FROM requests WHERE outcome = 'error'").fetchone()[0] == 3


def test_a_read_with_redis_unreachable_is_a_fallback_not_an_error(world):
    with unreachable():
        members = world.groups.members("g00002")
    assert members == set(world.repo.group_members("g00002"))
    (record,) = world.metrics.log
    assert (record.outcome, record.cache_failures, record.db_queries) == ("fallback", 1, 1)
    groups = world.metrics.of("groups")
    assert (groups.fallbacks, groups.reads, groups.hit_ratio) == (1, 1, 0.0)


def test_not_found_on_a_read_is_its_hit_or_miss_not_an_error(world):
    for _ in range(2):
        with pytest.raises(NotFound):
            world.groups.members("gnone")
    assert [r.outcome for r in world.metrics.log] == ["miss", "hit"]


def test_overall_row_adds_up_the_types(world):
    small_workload(world)
    *rows, overall = world.metrics.summary()
    assert overall.data_type == "overall"
    assert overall.requests == sum(r.requests for r in rows) == len(world.metrics.log)
    assert overall.db_queries == sum(r.db_queries for r in rows)
    assert overall.hits + overall.misses + overall.writes + overall.errors == overall.requests


def test_records_carry_the_simulated_time(world):
    world.clock.advance(12_345)
    world.profiles.get("u000001")
    assert world.metrics.log[-1].at_ms == world.clock.now_ms()


def test_simulated_latency_follows_the_model_per_round_trip_and_query(world):
    world.profiles.get("u000001")
    world.profiles.get("u000001")
    miss, hit = world.metrics.log
    assert 1.0 <= hit.simulated_ms <= 5.0  # one cache round trip
    assert 50.0 + 2 * 1.0 <= miss.simulated_ms <= 100.0 + 2 * 5.0  # two round trips and one query


def test_reset_clears_counters_and_log(world):
    small_workload(world)
    world.metrics.reset()
    assert world.metrics.log == [] and counts(world, "profiles").hits == 0
    assert [s.data_type for s in world.metrics.summary()] == ["overall"]


def test_summary_formats_and_exports(world):
    small_workload(world)
    table = format_summary(world.metrics.summary())
    assert all(t in table for t in DATA_TYPES) and "overall" in table
    exported = summary_dicts(world.metrics.summary())
    assert exported[-1]["data_type"] == "overall"
    assert exported[-1]["hit_ratio"] == pytest.approx(world.metrics.summary()[-1].hit_ratio)


# --- the request log is bounded; the counters are not ------------------------------------------

def bare_metrics():
    from whatsapp_cache.clock import SimulatedClock
    from whatsapp_cache.latency import LatencyModel
    from whatsapp_cache.metrics import Metrics

    return Metrics(LatencyModel(seed=0), SimulatedClock())


def test_200_000_hits_keep_the_newest_100_000_records_and_exact_totals():
    metrics = bare_metrics()
    for _ in range(200_000):
        with metrics.request("profiles", "get"):
            pass  # a hit: no call, nothing else to count
    assert len(metrics.log) == metrics.log_size == 100_000
    assert (metrics.log[0].seq, metrics.log[-1].seq) == (100_000, 199_999)
    profiles = metrics.of("profiles")
    assert (profiles.requests, profiles.hits, profiles.hit_ratio) == (200_000, 200_000, 1.0)
    assert metrics.summary()[-1].requests == 200_000
    assert metrics.to_duckdb().execute("SELECT count(*), min(seq) FROM requests").fetchone() == (100_000, 100_000)


def test_a_small_log_keeps_the_newest_records_and_the_counters_count_every_request(world):
    world.metrics.log_size = 50
    for _ in range(120):
        world.profiles.get("u000001")
    assert len(world.metrics.log) == 50 and [r.seq for r in world.metrics.log[:2]] == [70, 71]
    assert world.metrics.log[-1].outcome == "hit" and world.metrics.log[-3:] == list(world.metrics.log)[-3:]
    profiles = world.metrics.of("profiles")
    assert (profiles.requests, profiles.misses, profiles.hits) == (120, 1, 119)
    assert world.metrics.to_duckdb().execute("SELECT count(*) FROM requests").fetchone()[0] == 50


def test_log_size_none_keeps_every_record_and_keep_log_off_keeps_none(world):
    world.metrics.log_size = 10
    for _ in range(20):
        world.profiles.get("u000001")
    world.metrics.log_size = None  # from now on every record; the 10 kept stay
    for _ in range(150):
        world.profiles.get("u000001")
    assert world.metrics.log_size is None and len(world.metrics.log) == 160
    world.metrics.reset()
    world.metrics.keep_log = False
    world.profiles.get("u000001")
    assert world.metrics.log == [] and world.metrics.of("profiles").requests == 1


@pytest.mark.parametrize("size", [-1, 2.5, "10", True])
def test_log_size_must_be_a_whole_number_or_none(size):
    metrics = bare_metrics()
    with pytest.raises(InvalidInput, match="log_size"):
        metrics.log_size = size
    assert metrics.log_size == 100_000


def test_recording_hands_a_block_every_record_it_made_whatever_the_log_keeps(world):
    world.profiles.get("u000002")
    world.metrics.log_size = 5
    with world.metrics.recording() as records:
        for _ in range(30):
            world.profiles.get("u000001")
    world.profiles.get("u000003")
    assert len(records) == 30 and [r.seq for r in records] == list(range(1, 31))
    assert [r.outcome for r in records] == ["miss"] + ["hit"] * 29 and len(world.metrics.log) == 5


def test_chaos_and_the_pattern_comparison_count_their_whole_run_with_a_small_log():
    from whatsapp_cache import World
    from whatsapp_cache.experiments.chaos import ChaosSpec, FakeOutage, run_chaos
    from whatsapp_cache.patterns.compare import MixSpec, run_pattern

    spec = ChaosSpec(actions=200, duration_s=60, outage_from_s=20, outage_until_s=40, bucket_s=5,
                     recovery_window_s=5)
    mix = MixSpec(operations=300, seed=1)
    reports = []
    for log_size in (100_000, 20):
        with World(dataset="tiny") as chaos_world, World(dataset="tiny") as pattern_world:
            chaos_world.metrics.log_size = pattern_world.metrics.log_size = log_size
            report = run_chaos(chaos_world, FakeOutage(chaos_world, "down"), spec)
            reports.append((report.requests, report.fallbacks, [p.requests for p in report.phases],
                            run_pattern(pattern_world, "cache-aside", mix)))
    assert reports[0] == reports[1] and reports[0][0] > 200 and reports[0][3].reads + reports[0][3].writes == 300


def test_percentile_is_the_nearest_rank_of_values_really_observed():
    from whatsapp_cache.metrics import percentile

    values = [5, 1, 4, 2, 3]
    assert [percentile(values, p) for p in (0, 20, 21, 50, 99, 100)] == [1, 1, 2, 3, 5, 5]
    assert percentile(range(1, 201), 99) == 198  # 99% of 200 values are at or below the 198th
    assert percentile([], 50) == 0.0
