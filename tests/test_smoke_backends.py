"""Each backend pair builds a World whose data types answer."""

from whatsapp_cache import NotFound
import pytest


def test_profile_miss_then_hit(world):
    first = world.profiles.get("u000001")
    again = world.profiles.get("u000001")
    assert first == again
    stats = world.metrics.of("profiles")
    assert (stats.hits, stats.misses, stats.db_queries) == (1, 1, 1)


def test_unknown_profile_is_not_found_and_cached(world):
    for _ in range(3):
        with pytest.raises(NotFound):
            world.profiles.get("nobody")
    assert world.metrics.of("profiles").db_queries == 1
