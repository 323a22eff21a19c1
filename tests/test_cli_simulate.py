"""python -m whatsapp_cache simulate: its command line, table and JSON; and every command's bad arguments."""

import json

import pytest
import redis

from whatsapp_cache.cli import main
from whatsapp_cache.eviction import workloads
from whatsapp_cache.eviction.simulator import simulate
from whatsapp_cache.lab.process import free_port


def test_json_has_the_promised_fields_and_matches_the_library(capsys):
    args = ["simulate", "--policy", "lru", "--size", "500", "--workload", "zipf", "--alpha", "1.0",
            "--keys", "5000", "--requests", "20000", "--seed", "3", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"policy", "size", "requests", "hits", "misses", "hit_ratio", "evictions"} <= set(result)
    expected = simulate(workloads.zipf(5000, 20000, alpha=1.0, seed=3), "lru", 500)
    assert (result["hits"], result["evictions"]) == (expected.hits, expected.evictions)


@pytest.mark.parametrize("policy", ["lfu", "fifo", "redis-lru", "redis-lfu"])
def test_every_policy_runs_from_a_trace_file(tmp_path, capsys, policy):
    path = workloads.save_trace(workloads.zipf(1000, 5000, alpha=1.0, seed=1), tmp_path / "trace.txt")
    assert main(["simulate", "--policy", policy, "--size", "100", "--trace", str(path)]) == 0
    table = capsys.readouterr().out
    assert policy in table and "hit ratio" in table


def test_bad_arguments_are_one_clear_line(tmp_path, capsys):
    assert main(["simulate", "--policy", "lru", "--size", "0", "--workload", "zipf"]) == 2
    assert main(["simulate", "--policy", "lru", "--size", "10", "--trace", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("whatsapp-cache: error:") == 2


# Every command's arguments and backends: a clear line, never a traceback, never a value ignored ---

@pytest.mark.parametrize("argv", [
    ["simulate", "--policy", "redis-lru", "--size", "10", "--workload", "zipf", "--keys", "100", "--samples", "0"],
    ["simulate", "--policy", "lru", "--size", "10", "--workload", "zipf", "--keys", "100", "--samples", "5"],
    ["tour", "--no-progress", "--profiles-ttl", "0"],
    ["tour", "--no-progress", "--messages-ttl", "0"],
], ids=["samples 0", "samples of an exact policy", "profiles ttl 0", "messages ttl 0"])
def test_a_zero_or_an_inapplicable_value_is_refused_not_replaced_by_the_default(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("whatsapp-cache: error:") and err.count("\n") == 1


@pytest.mark.parametrize("hours", ["nan", "inf", "0", "-1"])
def test_hours_that_are_no_finite_positive_number_are_a_usage_error(capsys, hours):
    with pytest.raises(SystemExit) as info:
        main(["tour", "--no-progress", "--hours", hours])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --hours" in err and "Traceback" not in err


def test_unreachable_backends_are_one_line_naming_them(capsys, tmp_path):
    refused = f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=0.2"
    no_such_place = f"sqlite:///{tmp_path}/no/such/directory/db.sqlite"
    assert main(["tour", "--no-progress", "--size", "tiny", "--redis-url", refused]) == 2
    assert main(["tour", "--no-progress", "--size", "tiny", "--database-url", no_such_place]) == 2
    assert main(["chaos", "--mode", "down", "--no-progress", "--database-url", no_such_place]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-3].startswith(f"whatsapp-cache: error: cannot reach Redis at {refused}: ConnectionError")
    assert err[-2].startswith(f"whatsapp-cache: error: cannot reach database at {no_such_place}: OperationalError")
    assert err[-1] == err[-2]


def test_a_backend_failing_mid_command_is_one_line_without_its_secrets(capsys, monkeypatch):
    """Past its checks a command may still lose Redis or the database: one line, no traceback, no password."""
    def lose_redis(*args, **kwargs):
        raise redis.ConnectionError("Connection lost to 127.0.0.1:6379 (AUTH default s3cret)")

    monkeypatch.setattr("whatsapp_cache.experiments.tour.tour", lose_redis)
    assert main(["tour", "--redis-url", "redis://default:s3cret@127.0.0.1:6379/0"]) == 2
    assert capsys.readouterr().err == ("whatsapp-cache: error: a backend failed: ConnectionError: "
                                       "Connection lost to 127.0.0.1:6379 (AUTH default ***)\n")


def test_every_library_workload_and_policy_is_reachable_from_the_command_line():
    from whatsapp_cache.cli import build_parser
    from whatsapp_cache.eviction.simulator import POLICIES
    from whatsapp_cache.eviction.workloads import WORKLOADS

    simulate = build_parser()._subparsers._group_actions[0].choices["simulate"]
    choices = {action.dest: action.choices for action in simulate._actions if action.choices}
    assert set(WORKLOADS) <= set(choices["workload"]) and tuple(choices["policy"]) == POLICIES
