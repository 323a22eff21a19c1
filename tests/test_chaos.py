"""The kill-and-restart experiment: Redis goes away mid-workload; nothing fails, nothing is lost or stale.

Embedded runs cut or hang an in-process fakeredis (deterministic, byte for byte); live runs
SIGKILL or SIGSTOP a throw-away redis-server in front of the live PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from whatsapp_cache import InvalidInput, SystemClock, World
from support import own_cluster
from whatsapp_cache.experiments.chaos import (CHAOS_MIX, PHASES, ChaosSpec, ClusterFailover, FakeOutage, ServerOutage,
                                              format_report, run_chaos, run_failover)
from whatsapp_cache.config import DATABASE_URL_ENV
from whatsapp_cache.cli import main
from whatsapp_cache.resilience import CLOSED, OPEN, FailurePolicy
from whatsapp_cache.experiments.workload import DEFAULT_MIX, WorkloadSpec, run
from whatsapp_cache.lab.process import RedisProcess, available

REQUIRE_LIVE = os.environ.get("WHATSAPP_CACHE_REQUIRE_LIVE") == "1"
NAIVE = FailurePolicy(breaker=False, repair=False)
SPEC = ChaosSpec(actions=1_200, duration_s=300, outage_from_s=100, outage_until_s=200)
SMALL = ChaosSpec(actions=400, duration_s=120, outage_from_s=40, outage_until_s=80)


def embedded_run(mode: str, policy: FailurePolicy | None = None, spec: ChaosSpec = SPEC):
    world = World(None, None, seed=spec.seed, failure_policy=policy)
    try:
        return run_chaos(world, FakeOutage(world, mode), spec)
    finally:
        world.close()


@pytest.fixture(scope="module")
def runs():
    """Each embedded run once per module, made on first use (inside a test, after the env is cleaned)."""
    done = {}

    def get(mode: str, naive: bool = False):
        if (mode, naive) not in done:
            done[mode, naive] = embedded_run(mode, NAIVE if naive else None)
        return done[mode, naive]

    return get


def without_measured(value):
    """A report dict without the wall-clock figures, which differ run to run."""
    if isinstance(value, dict):
        return {key: without_measured(item) for key, item in value.items() if "measured" not in key}
    if isinstance(value, list):
        return [without_measured(item) for item in value]
    return value


def summary(label: str, report) -> str:
    before, during, after = (report.phase(name) for name in PHASES)
    return (f"chaos {label:<22} {report.requests:,} requests, {report.failed} failed, {report.fallbacks:,} from the "
            f"database; mean simulated ms {before.mean_simulated_ms:.1f} / {during.mean_simulated_ms:.1f} / "
            f"{after.mean_simulated_ms:.1f} (before/during/after), db queries/s {before.db_queries_per_s:.1f} / "
            f"{during.db_queries_per_s:.1f} / {after.db_queries_per_s:.1f}; hit ratio {report.steady_hit_ratio:.1%} (steady) "
            f"recovered after {report.recovery_s} s; {report.lost_writes} lost writes, {report.stale} stale of "
            f"{report.audit.checked:,} checked")


# --- embedded: fakeredis cut off or hung ------------------------------------------------------

@pytest.mark.parametrize("mode", ["down", "hung"])
def test_guarded_outage_fails_nothing_loses_nothing_and_leaves_nothing_stale(runs, mode, figures):
    report = runs(mode)
    before, during, after = (report.phase(name) for name in PHASES)
    assert (report.failed, report.lost_writes, report.stale) == (0, 0, 0), report.failures[:3]
    assert during.fallbacks > 0 and during.hits == 0 and before.fallbacks == 0
    assert during.db_queries_per_s > 1.4 * before.db_queries_per_s  # every read now costs a query
    assert report.recovery_s is not None and after.hit_ratio >= 0.95 * before.hit_ratio and report.steady_hit_ratio > 0.4
    assert report.writes.messages_acknowledged > 50 and report.writes.status_updates_acknowledged > 10
    assert report.audit.from_cache > 100 and report.audit.unchecked == 0
    assert report.transitions[0][1] == OPEN and SPEC.outage_from_s <= report.transitions[0][0] < SPEC.outage_until_s
    assert report.transitions[-1][1] == CLOSED and report.transitions[-1][0] >= SPEC.outage_until_s
    assert report.guard["repaired"] > 0
    figures(summary(f"fakeredis {mode}", report))


def test_naive_down_serves_entries_overwritten_during_the_outage(runs, figures):
    """The seed's 'graceful degradation' without repair: the old data comes back with Redis."""
    naive, guarded = runs("down", naive=True), runs("down")
    assert (naive.failed, naive.lost_writes) == (0, 0)
    assert naive.stale > 0 and guarded.stale == 0
    assert naive.transitions == [] and naive.guard["refused"] == 0 and naive.guard["repaired"] == 0
    assert any(example.startswith(("profile", "conversation")) for example in naive.audit.examples)
    figures(summary("fakeredis down, naive", naive))


def test_naive_hung_waits_out_a_timeout_on_every_call(runs, figures):
    naive, guarded = runs("hung", naive=True), runs("hung")
    assert naive.failed == 0 and naive.guard["timeouts"] > 10 * guarded.guard["timeouts"]
    naive_ms, guarded_ms = naive.phase("during").mean_simulated_ms, guarded.phase("during").mean_simulated_ms
    assert naive_ms > guarded_ms + 0.8 * NAIVE.timeout_ms and naive_ms > 4 * guarded_ms
    before = [without_measured(report.to_dict()["phases"]["before"]) for report in (naive, guarded)]
    assert before[0] == before[1]  # the policies differ only once Redis is away
    figures(summary("fakeredis hung, naive", naive))


def test_same_seed_same_report_other_seed_other_report():
    first, again = embedded_run("down", spec=SMALL), embedded_run("down", spec=SMALL)
    assert without_measured(first.to_dict()) == without_measured(again.to_dict())
    assert format_report(first) == format_report(again)
    other = embedded_run("down", spec=ChaosSpec(**{**vars(SMALL), "seed": 1}))
    assert without_measured(other.to_dict()) != without_measured(first.to_dict())


def test_report_is_json_and_reads_well(runs):
    report = runs("down")
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data["phases"]) == set(PHASES) and len(data["timeline"]) == SPEC.duration_s // SPEC.bucket_s
    assert data["lost_writes"] == 0 and data["stale"] == 0 and data["requests"] == report.requests
    assert sum(bucket["requests"] for bucket in data["timeline"]) == report.requests
    text = format_report(report)
    assert "real ms" not in text and "Wall-clock" not in text  # deterministic unless asked
    for words in ("before", "during", "after", "Requests attempted", "Served from database", "Lost writes",
                  "Stale entries", "Hit ratio recovered", "Circuit breaker"):
        assert words in text
    assert "real ms" in format_report(report, measured=True)


def test_an_outage_reaching_the_end_of_the_workload_is_ended_and_audited():
    spec = ChaosSpec(**{**vars(SMALL), "outage_until_s": SMALL.duration_s})
    world = World(None, None)
    try:
        outage = FakeOutage(world, "hung")
        report = run_chaos(world, outage, spec)
        assert not outage.active and world.redis.ping()  # the patch is gone
        assert (report.failed, report.lost_writes, report.stale, report.audit.unchecked) == (0, 0, 0, 0)
        assert report.recovery_s is None  # no time left to recover in
    finally:
        world.close()


# --- the workload's optional action and bad input ----------------------------------------------

def test_update_profile_is_allowed_in_a_mix_but_not_in_the_default():
    assert "update_profile" not in dict(DEFAULT_MIX) and "update_profile" in dict(CHAOS_MIX)
    world = World(None, None, dataset="tiny")
    try:
        rows = run(world, WorkloadSpec(actions=20, duration_s=60, mix=(("update_profile", 1.0),)))
        assert {row.data_type: row.writes for row in rows}["profiles"] == 20
        statuses = [world.repo.user(row["id"])["status_message"] for row in world.dataset.tables["users"]]
        assert "workload status 20" in statuses
    finally:
        world.close()


@pytest.mark.parametrize("options", [
    {"actions": 0}, {"actions": True}, {"duration_s": 0}, {"outage_from_s": 400}, {"outage_until_s": 100},
    {"outage_until_s": 700}, {"outage_from_s": 1.5}, {"outage_from_s": -1}, {"bucket_s": 0},
    {"recovery_window_s": 0}, {"recovery_share": 0}, {"recovery_share": 1.5}, {"recovery_share": True},
    {"seed": "x"}, {"mix": (("fly", 1.0),)}, {"mix": (("open_chat",),)}, {"mix": "open_chat"},
    {"user_skew": "high"},
])
def test_bad_spec_is_invalid_input(options):
    with pytest.raises(InvalidInput):
        ChaosSpec(**options)


def test_bad_outages_and_worlds_are_invalid_input():
    world = World(None, None, dataset="tiny")
    try:
        with pytest.raises(InvalidInput):
            FakeOutage(world, "kill")
        with pytest.raises(InvalidInput):
            ServerOutage(object(), "kill")
        with pytest.raises(InvalidInput):
            ClusterFailover(object())
        with pytest.raises(InvalidInput):
            FakeOutage(world, "down").end()  # never began
        with pytest.raises(InvalidInput):
            run_chaos(world, "down", SPEC)
    finally:
        world.close()
    real_time = World(None, None, dataset="tiny", clock=SystemClock())
    try:
        with pytest.raises(InvalidInput):
            run_chaos(real_time, FakeOutage(real_time, "down"), SPEC)
    finally:
        real_time.close()


# --- live: a real redis-server killed or paused, in front of the live PostgreSQL -----------------

def need_redis_server() -> None:
    """Skip without the binary, or fail when live runs are required (like conftest's _unavailable)."""
    if available():
        return
    message = "live redis-server unavailable: no redis-server binary on the PATH"
    if REQUIRE_LIVE:
        pytest.fail(message + " (WHATSAPP_CACHE_REQUIRE_LIVE=1)")
    pytest.skip(message)


def live_run(database_url: str, mode: str, spec: ChaosSpec, policy: FailurePolicy | None = None):
    """One run on a throw-away redis-server and a freshly loaded database; both cleaned up after."""
    need_redis_server()
    server = RedisProcess().start()
    world = None
    try:
        world = World(server.url, database_url, seed=spec.seed, dataset=None, failure_policy=policy)
        world.reset("small")
        pid = server.process.pid
        report = run_chaos(world, ServerOutage(server, mode), spec)
        return report, pid, server.process.pid
    finally:
        if world is not None:
            world.repo.drop_schema()
            world.close()
        server.stop()


def live_summary(label: str, report) -> str:
    before, during, after = (report.phase(name) for name in PHASES)
    return (summary(label, report) + f"; measured ms per request {before.mean_measured_ms:.2f} / "
            f"{during.mean_measured_ms:.2f} / {after.mean_measured_ms:.2f}, replay {report.measured_wall_s:.1f} s")


@pytest.mark.live
def test_redis_server_killed_mid_workload_and_restarted_empty(live_database_url, figures):
    report, pid_before, pid_after = live_run(live_database_url, "kill", SPEC)
    during = report.phase("during")
    assert pid_after != pid_before  # a new process on the same port
    assert (report.failed, report.lost_writes, report.stale) == (0, 0, 0), report.failures[:3]
    assert during.fallbacks > 0 and during.hits == 0 and report.guard["failed"] > 0
    assert report.recovery_s is not None and report.audit.checked > 100
    figures(live_summary("redis-server SIGKILL", report))


@pytest.mark.live
def test_redis_server_paused_mid_workload_keeps_its_data_and_serves_nothing_stale(live_database_url, figures):
    """SIGSTOP: the old data survives the outage, so only the repair keeps it from being served."""
    spec = ChaosSpec(actions=1_000, duration_s=200, outage_from_s=60, outage_until_s=120)
    policy = FailurePolicy(timeout_s=0.2, connect_timeout_s=0.2)  # each timeout is waited out for real
    report, _, _ = live_run(live_database_url, "pause", spec, policy)
    assert (report.failed, report.lost_writes, report.stale) == (0, 0, 0), report.failures[:3]
    assert report.phase("during").fallbacks > 0 and report.guard["timeouts"] > 0
    assert report.guard["repaired"] > 0 and report.recovery_s is not None
    figures(live_summary("redis-server SIGSTOP", report))


# --- live: a master of a local Redis Cluster killed, its replica promoted ----------------------

@pytest.mark.live
def test_cluster_master_killed_mid_workload_fails_nothing_and_loses_nothing(monkeypatch, figures):
    """Requests keep being served (from the database while the slots have no master); the
    database keeps every acknowledged write; raw cache writes are lost without WAIT, none WAIT confirmed."""
    need_redis_server()
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)  # embedded SQLite
    with own_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000) as lab:
        report = run_failover(SPEC, lab=lab)
        layout = lab.nodes()
    before, during, after = (report.phase(name) for name in PHASES)
    assert report.requests > 3_000 and (report.failed, report.lost_writes, report.stale) == (0, 0, 0), \
        report.failures[:3]
    assert during.fallbacks > 0 and before.fallbacks == 0 and report.fallbacks == sum(p.fallbacks for p in report.phases)
    assert report.recovery_s is not None and after.hit_ratio > 0.9 * report.steady_hit_ratio > 0.3
    assert report.writes.messages_acknowledged > 50 and report.audit.checked > 100
    facts = report.failover
    assert facts["keys_on_victim"] > 0 and facts["old_master_restarted"]
    assert 0 < facts["measured_window_replay_s"] <= facts["measured_failover_s"] < 30
    plain, waited = facts["cache_writes"]["without_wait"], facts["cache_writes"]["with_wait"]
    assert plain["lost"] > 0 and plain["confirmed"] == 0
    assert waited["confirmed"] > 0 and waited["lost_confirmed"] == 0
    assert sum(n.alive for n in layout) == 6 and sum(n.role == "master" and bool(n.slots) for n in layout) == 3
    text = format_report(report, measured=True)
    for pattern in (r"^Requests attempted +[\d,]+$", r"^Failed +0$", r"^Served from database +[\d,]+ reads",
                    r"^Hit ratio recovered +[\d.]+ s after", r"^Lost writes +0 of",
                    r"^Cache writes lost +without WAIT \d+ of \d+ .*with WAIT 1 0 of the \d+"):
        assert re.search(pattern, text, re.MULTILINE), pattern
    assert json.loads(json.dumps(report.to_dict()))["failover"]["cache_writes"]["with_wait"]["lost_confirmed"] == 0
    figures(summary("cluster failover", report) + f"; failover {facts['measured_failover_s']:.1f} s; cache writes "
            f"lost without WAIT {plain['lost']} of {plain['acknowledged']}, with WAIT {waited['lost_confirmed']} of "
            f"{waited['confirmed']} confirmed")


# --- the command line ---------------------------------------------------------------------------

CLI_KEYS = {"outage", "backends", "policy", "spec", "requests", "failed", "fallbacks", "phases", "timeline",
            "transitions", "guard", "steady_hit_ratio", "recovery_s", "writes", "audit", "lost_writes", "stale", "failures"}


def test_cli_chaos_down_prints_json(capsys):
    assert main(["chaos", "--mode", "down", "--actions", "600", "--json", "--no-progress"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert CLI_KEYS <= set(data) and set(data["phases"]) == set(PHASES)
    assert data["backends"]["redis"].startswith("fakeredis") and data["outage"].startswith("fakeredis down")
    assert (data["failed"], data["lost_writes"], data["stale"]) == (0, 0, 0)


def test_cli_chaos_without_the_binary_says_it_uses_fakeredis(capsys, monkeypatch):
    monkeypatch.setattr("whatsapp_cache.lab.process.available", lambda: False)
    args = ["chaos", "--actions", "300", "--duration", "120", "--outage-from", "40", "--outage-until", "80",
            "--json", "--no-progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "fakeredis" in captured.err and json.loads(captured.out)["outage"].startswith("fakeredis down")


def test_cli_chaos_failover_without_the_binary_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.setattr("whatsapp_cache.lab.process.available", lambda: False)
    assert main(["chaos", "--mode", "failover", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "redis-server" in err and err.count("whatsapp-cache: error:") == 1


def test_cli_chaos_bad_arguments_are_one_clear_line(capsys):
    assert main(["chaos", "--mode", "down", "--outage-from", "500", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("whatsapp-cache: error:") == 1


def test_cli_chaos_with_a_saturating_database_sheds_and_serves_stale_copies(capsys):
    base = ["chaos", "--mode", "down", "--actions", "600", "--json", "--no-progress", "--db-capacity", "3"]
    assert main(base + ["--shed-reads-at", "0.8"]) == 0
    shed = json.loads(capsys.readouterr().out)
    assert shed["capacity"] == {"queries_per_s": 3.0, "shed_reads_at": 0.8} and shed["served_stale"] == 0
    assert shed["failed"] > 0 and shed["lost_writes"] == 0
    assert main(base + ["--shed-reads-at", "0.8", "--stale-if-error-ms", "300000", "--stale-first"]) == 0
    stale = json.loads(capsys.readouterr().out)
    assert stale["policy"]["stale_if_error_ms"] == 300_000 and stale["policy"]["stale_first"] is True
    assert stale["served_stale"] > 0 and max(stale["stale_ages_s"]) <= 300
    assert stale["failed"] < shed["failed"] and stale["lost_writes"] == 0


@pytest.mark.parametrize("extra", [["--shed-reads-at", "0.8"], ["--stale-first"],
                                   ["--naive", "--stale-if-error-ms", "1000"]])
def test_cli_chaos_capacity_and_stale_options_refuse_what_cannot_apply(capsys, extra):
    assert main(["chaos", "--mode", "down", "--actions", "300", "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("whatsapp-cache: error:") == 1


@pytest.mark.parametrize("extra", [["--db-capacity", "0"], ["--db-capacity", "nan"],
                                   ["--db-capacity", "5", "--shed-reads-at", "1.5"]])
def test_cli_chaos_capacity_values_out_of_range_are_usage_errors(capsys, extra):
    with pytest.raises(SystemExit) as exit_:
        main(["chaos", "--mode", "down", "--no-progress", *extra])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err and err.count("error: argument") == 1


@pytest.mark.live
def test_cli_chaos_kills_a_throw_away_server(capsys):
    need_redis_server()
    assert main(["chaos", "--mode", "kill", "--actions", "600", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "redis-server kill" in text and "real ms" in text
    assert re.search(r"^Failed +0$", text, re.MULTILINE) and re.search(r"^Lost writes +0 of", text, re.MULTILINE)
    assert re.search(r"^Stale entries +0 of", text, re.MULTILINE)
