"""Lab results: computed where redis-server runs, stored text elsewhere."""

import re
from pathlib import Path

import nbformat
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


def test_save_replaces_only_the_named_result(tmp_path):
    path = tmp_path / "results.json"
    stored.save("a", "first", path)
    stored.save("b", "other", path)
    stored.save("a", "second", path)
    assert (stored.stored("a", path), stored.stored("b", path), stored.stored("c", path)) == ("second", "other", None)


def _p50s(table: str) -> dict[str, tuple[int, int]]:
    """{backend: (hit p50, query p50)} from a stored format_timings table."""
    rows = {}
    for line in table.splitlines():
        name, _, cells = line.partition("  ")
        numbers = cells.split()
        if name in ("embedded", "live Redis + SQLite", "live Redis + PostgreSQL") and len(numbers) == 6:
            rows[name] = (int(numbers[0].replace(",", "")), int(numbers[2].replace(",", "")))
    return rows


def test_chapter_07_quotes_the_stored_backend_timings():
    p50 = _p50s(stored.stored("backend timings"))
    assert set(p50) == {"embedded", "live Redis + SQLite", "live Redis + PostgreSQL"}
    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "07_performance_and_capacity.ipynb", 4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    quoted = re.search(r"embedded hit (\d+), live Redis hit (\d+), in-memory SQLite SELECT (\d+), "
                       r"PostgreSQL SELECT (\d+)", text)
    assert quoted, "chapter 07 no longer quotes the stored run"
    postgres_hit, postgres_query = p50["live Redis + PostgreSQL"]
    assert tuple(map(int, quoted.groups())) == (p50["embedded"][0], postgres_hit, p50["embedded"][1], postgres_query)
    ratio = re.search(r"about (\d+(?:\.\d)?) times a Redis hit here \((\d+) / (\d+) µs", text)
    assert ratio and (int(ratio[2]), int(ratio[3])) == (postgres_query, postgres_hit)
    assert float(ratio[1]) == round(postgres_query / postgres_hit, 0 if "." not in ratio[1] else 1)
    assert any('stored("backend timings")' in cell.source for cell in notebook.cells if cell.cell_type == "code")
