"""python -m whatsapp_cache simulate: the issue's command line, table and JSON."""

import json

import pytest

from whatsapp_cache.cli import main
from whatsapp_cache.eviction import workloads
from whatsapp_cache.eviction.simulator import simulate


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
