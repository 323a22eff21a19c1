"""The course's experiments run fresh and embedded whatever backends the environment names, and say so.

measure(), compare() and compare_fleet() (and the panels built on them) promise a fresh embedded
World. Each test first computes the embedded answer, then names this test's backend in
WHATSAPP_CACHE_REDIS_URL / WHATSAPP_CACHE_DATABASE_URL, with a cache warmed by an earlier run in
the namespace a World uses by default, and asks again: the answer must not change, and the
printed table must name the backends that produced it.
"""

from whatsapp_cache import TTLs
from whatsapp_cache.config import DATABASE_URL_ENV, REDIS_URL_ENV
from whatsapp_cache.invalidation.fleet import FleetSpec, compare_fleet, format_fleet
from whatsapp_cache.experiments.measure import BackendSpec, measure_backends
from whatsapp_cache.metrics import format_summary
from whatsapp_cache.patterns.compare import MixSpec, compare, format_comparison, run_pattern
from whatsapp_cache.experiments.workload import WorkloadSpec, measure, run

EMBEDDED = "on fakeredis (in process) + SQLite (in memory)"
WORKLOAD = WorkloadSpec(actions=400, seed=0)
MIX = MixSpec(operations=400, seed=0)
PATTERNS = ["cache-aside", "TTL only"]


def name_in_environment(backend, make_world, monkeypatch) -> None:
    """Warm this backend's cache (namespace 'wc') with an earlier run, then name it in the environment."""
    warm = make_world(seed=0)
    run(warm, WORKLOAD)
    run_pattern(warm, "cache-aside", MIX)
    if backend.redis_url is not None:
        monkeypatch.setenv(REDIS_URL_ENV, backend.redis_url)
    if backend.database_url is not None:
        monkeypatch.setenv(DATABASE_URL_ENV, backend.database_url)


def counted(rows) -> list[tuple]:
    """The summary's counts (not the measured wall-clock times)."""
    return [(r.data_type, r.requests, r.hits, r.misses, r.writes, r.db_queries, r.round_trips) for r in rows]


def ttl_sweep() -> list[list]:
    """Notebook 01's sweep: the workload under three messages TTLs."""
    return [measure(TTLs(messages=minutes * 60), WORKLOAD, "tiny") for minutes in (10, 60, 360)]


def test_measure_is_fresh_and_embedded_and_its_table_says_so(backend, make_world, monkeypatch):
    expected = [counted(rows) for rows in ttl_sweep()]
    name_in_environment(backend, make_world, monkeypatch)
    sweep = ttl_sweep()
    assert [counted(rows) for rows in sweep] == expected
    assert len({tuple(rows) for rows in expected}) == 3, "each TTL gives its own counts"
    assert all(row.hit_ratio < 1 for rows in sweep for row in rows)
    assert format_summary(sweep[0]).splitlines()[0] == EMBEDDED


def test_compare_is_fresh_and_embedded_and_its_table_says_so(backend, make_world, monkeypatch):
    expected = compare(MIX, PATTERNS)
    name_in_environment(backend, make_world, monkeypatch)
    rows = compare(MIX, PATTERNS)
    assert rows == expected and all(row.hit_ratio < 1 for row in rows)
    assert format_comparison(rows).splitlines()[0] == EMBEDDED


def test_compare_fleet_is_fresh_and_embedded_and_its_table_says_so(backend, make_world, monkeypatch):
    spec = FleetSpec(operations=500, seed=0)
    expected = compare_fleet(spec)
    name_in_environment(backend, make_world, monkeypatch)
    rows = compare_fleet(spec)
    assert rows == expected
    assert format_fleet(rows).splitlines()[0] == EMBEDDED


def test_the_embedded_backend_of_measure_backends_is_embedded(backend, make_world, monkeypatch):
    name_in_environment(backend, make_world, monkeypatch)
    (row,) = measure_backends([BackendSpec("embedded")], requests=20, progress=False)
    assert (row.unavailable, row.redis, row.database) == (None, "fakeredis (in process)", "SQLite (in memory)")


def test_the_chaos_panel_replays_on_a_fresh_embedded_world(backend, make_world, monkeypatch, capsys):
    import whatsapp_cache.experiments.chaos as chaos
    import whatsapp_cache.course.widgets as widgets

    real_run, worlds = chaos.run_chaos, []

    def small_run(world, outage, spec):
        worlds.append((world.config.redis_label, world.config.database_label))
        return real_run(world, outage, chaos.ChaosSpec(actions=50, duration_s=30, outage_from_s=10,
                                                      outage_until_s=20, bucket_s=5, recovery_window_s=5))

    monkeypatch.setattr(chaos, "run_chaos", small_run)
    name_in_environment(backend, make_world, monkeypatch)
    widgets.chaos_explorer()
    assert worlds == [("fakeredis (in process)", "SQLite (in memory)")]
    assert "Redis: fakeredis (in process); database: SQLite (in memory)" in capsys.readouterr().out
