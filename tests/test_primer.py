"""The primer's round-trip lesson: the same reads one by one, pipelined and as one MGET."""

from __future__ import annotations

import pytest

from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.experiments import primer


def test_one_round_trip_per_get_and_one_for_a_pipeline_or_an_mget(world):
    keys = [f"wc:primer:{{demo}}:{i}" for i in range(20)]
    world.redis.mset({key: str(i) for i, key in enumerate(keys[:15])})
    rows = primer.round_trip_costs(world.redis, keys)
    assert [(r.way, r.commands, r.round_trips, r.values) for r in rows] == [
        ("one GET per key", 20, 20, 15), ("one pipeline", 20, 1, 15), ("one MGET", 1, 1, 15)]
    # Priced by one seeded model each: the pipeline's one trip costs what the first GET's did.
    assert rows[1].simulated_ms == rows[2].simulated_ms < rows[0].simulated_ms
    assert 20 * 1.0 <= rows[0].simulated_ms <= 20 * 5.0


def test_the_simulated_cost_is_the_same_on_every_run(world):
    keys = ["wc:primer:{demo}:a", "wc:primer:{demo}:b"]
    first = primer.round_trip_costs(world.redis, keys, seed=7)
    assert first == primer.round_trip_costs(world.redis, keys, seed=7)
    assert primer.describe(first).splitlines()[1].split()[-3:] == ["2", f"{first[0].simulated_ms:.1f}", "0"]


@pytest.mark.parametrize("keys", [[], ["a", 3], "abc"])
def test_bad_keys_are_refused(world, keys):
    with pytest.raises(InvalidInput):
        primer.round_trip_costs(world.redis, keys)
