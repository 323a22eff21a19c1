"""Lab results: computed where redis-server runs, stored text elsewhere."""

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.lab import stored


def test_computes_and_records_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    monkeypatch.setattr(stored, "live", lambda: True)
    assert stored.live_or_stored("x", lambda: "fresh", path) == "fresh" and not path.exists()
    monkeypatch.setenv(stored.RECORD_ENV, "1")
    assert stored.live_or_stored("x", lambda: "fresh", path) == "fresh"
    monkeypatch.setattr(stored, "live", lambda: False)
    assert stored.live_or_stored("x", lambda: pytest.fail("must not run"), path).startswith("fresh\n(stored result")


def test_without_a_binary_or_a_stored_result_it_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(stored, "live", lambda: False)
    assert "no stored result" in stored.live_or_stored("y", lambda: "never", tmp_path / "none.json")
    with pytest.raises(InvalidInput):
        stored.live_or_stored("", lambda: "never")
