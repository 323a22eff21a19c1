"""The seed's "Why Redis?" measured: the same reads on an in-process cache, a real Redis and a real memcached."""

from __future__ import annotations

import json

import pytest

from support import require_redis_server

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.experiments import why_redis
from whatsapp_cache.lab import memcached, stored


@pytest.fixture
def servers():
    require_redis_server()
    if not memcached.available():
        pytest.skip("no memcached binary (Debian: apt-get install memcached)")


def test_the_trace_is_seeded_and_skewed():
    first = why_redis.trace(keys=100, reads=2_000, seed=3)
    assert first == why_redis.trace(keys=100, reads=2_000, seed=3) != why_redis.trace(keys=100, reads=2_000, seed=4)
    assert first.count(max(set(first), key=first.count)) > 2_000 / 100 * 5  # the hottest key: far above uniform


def test_values_are_json_and_depend_only_on_the_key():
    assert why_redis.value("profile:7") == why_redis.value("profile:7") != why_redis.value("profile:8")
    assert json.loads(why_redis.value("profile:7"))["id"] == "u000007"


def test_in_process_reads_take_no_round_trip_and_return_every_value():
    names = [f"profile:{i}" for i in range(50)]
    row = why_redis.read_in_process(names, why_redis.trace(keys=50, reads=500))
    assert (row.reads, row.hits, row.round_trips, row.same_values) == (500, 500, 0, True)


@pytest.mark.live
def test_every_server_read_is_one_round_trip_counted_on_the_wire(servers):
    rows = why_redis.compare(keys=200, reads=1_000)
    assert [r.name for r in rows] == ["in-process", "redis", "memcached"]
    assert [(r.hits, r.round_trips, r.same_values) for r in rows] == [(1_000, 0, True), (1_000, 1_000, True),
                                                                      (1_000, 1_000, True)]
    assert all(0 < r.p50_us <= r.p99_us for r in rows)
    assert rows[1].server_us is not None and rows[1].server_us > 0 and rows[2].server_us is None
    counts = why_redis.describe_counts(rows).splitlines()
    assert counts[2].split()[-2:] == ["1.00", "True"] and len(why_redis.describe_timings(rows).splitlines()) == 5


@pytest.mark.live
def test_memcached_refuses_a_value_over_its_limit_and_forgets_everything_on_restart(servers):
    text = why_redis.capabilities(keys=20)
    assert "item size limit: 1 MB" in text and "refused: True" in text
    assert "restart: 0 of 20 keys kept" in text and "evictions on" in text


@pytest.mark.live
def test_memory_per_item_is_measured_on_each_and_exceeds_the_value(servers):
    lines = why_redis.memory_per_item(keys=100).splitlines()
    assert lines[0].startswith("100 profiles of 127 bytes") and [line.split()[0] for line in lines[1:]] == [
        "in-process", "redis", "memcached"]
    assert all(float(line.split()[1]) > 127 for line in lines[1:])  # every cache spends more than the value


def test_without_the_servers_the_stored_text_is_shown(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"why redis: counts": "stored counts"}))
    text = stored.live_or_stored("why redis: counts", lambda: pytest.fail("must not run"), path,
                                 available=lambda: False, needs="memcached")
    assert text == "stored counts\n(stored result: this machine has no memcached binary to run it)"
    monkeypatch.setattr(stored, "live", lambda: False)  # redis-server's check is not the one asked
    assert stored.live_or_stored("x", lambda: "fresh", path, available=lambda: True) == "fresh"


@pytest.mark.parametrize("arguments", [{"keys": 0}, {"reads": -5}, {"keys": True}, {"reads": 1.5}])
def test_bad_sizes_are_refused_before_any_server_starts(arguments):
    with pytest.raises(InvalidInput):
        why_redis.compare(**arguments)


def test_the_stored_results_cover_the_lesson():
    results = json.loads(stored.RESULTS.read_text())
    for name in ("why redis: counts", "why redis: timings", "why redis: capabilities", "why redis: memory",
                 "persistence"):
        assert name in results, name
