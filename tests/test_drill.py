"""The interview drill and the cheat sheet: every quoted number is the library's, and follows its inputs."""

from __future__ import annotations

import math
import re

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.cli import main
from whatsapp_cache.course import cheatsheet as sheet
from whatsapp_cache.course import designs, drill, figures
from whatsapp_cache.experiments import capacity, loadmodel


def test_fill_quotes_the_numbers_and_collapses_the_answer():
    answer = drill.fill("Q?", "costs \\${cost:,.0f} a month", {"cost": 24_000})
    assert answer.markdown == "costs \\$24,000 a month"
    assert answer._repr_markdown_().startswith("<details><summary>Model answer</summary>")
    with pytest.raises(KeyError):
        drill.fill("Q?", "{missing}", {})


def test_seed_q1_quotes_the_capacity_plan_not_the_seeds_80000():
    plan = capacity.plan()
    text = drill.seed_q1().markdown
    assert f"\\${plan.cache_monthly:,.0f} a month" in text
    assert f"{plan.masters} masters and {plan.replicas} replicas" in text


def test_seed_q2_surge_comes_from_the_load_model():
    outage = dict(miss_before=0.4, miss_during=1.0, dbq_before=5.0, dbq_during=11.0, surge=2.2, mean_before_ms=40.0,
                  mean_during_ms=80.0, requests=100, failed=0, lost=0, stale=0, acknowledged=10, timeout_ms=500.0,
                  threshold=3, probe_ms=5000)
    text = drill.seed_q2(outage).markdown
    report = loadmodel.evaluate()
    assert "**20% to 100%**" in text
    assert f"{report.db_reads_after:,.0f}/s to\n**{report.reads_per_s:,.0f}/s: 5 times**" in text


class _Ones(dict):
    """Figures for a stubbed experiment: every field 1."""

    def __missing__(self, key):
        return 1


def test_every_more_question_is_filled(monkeypatch):
    """Each of the thirteen answers fills its template from its figures (the slow experiments stubbed)."""
    for slow in ("pattern_figures", "consistency_figures", "warm_figures"):
        monkeypatch.setattr(figures, slow, _Ones)
    answers = [question() for question in drill.MORE_QUESTIONS]
    assert len(answers) >= 12
    assert all(re.search(r"\{[a-z_]+", a.markdown.replace("{user42}", "")) is None for a in answers)
    assert "72.7%" in drill.eviction().markdown  # LFU on chapter 04's trace, as in the cheat sheet


def test_bloom_filter_matches_the_formula_and_refuses_bad_rates():
    bloom = figures.bloom_filter(1_000, 0.01)
    assert bloom["bits_per_item"] == pytest.approx(-math.log(0.01) / math.log(2) ** 2)
    assert bloom["hashes"] == 7
    with pytest.raises(InvalidInput):
        figures.bloom_filter(1_000, 1.5)


def test_modulo_hashing_moves_most_keys_slots_and_ring_about_a_quarter():
    keys = [f"wc:user:{{u{n:06d}}}:profile" for n in range(4_000)]
    moved = figures.moved_shares(keys, nodes=3)
    assert moved["modulo"] > 0.6
    assert abs(moved["ring"] - 0.25) < 0.1 and abs(moved["slots"] - 0.25) < 0.05


def test_designs_follow_their_inputs():
    base = designs.leaderboard_figures()
    assert base["on_key"] == 170_000 and base["with_local"] == 70_200
    bigger = designs.leaderboard_figures(designs.BoardInputs(players=20_000_000))
    assert bigger["memory_gb"] == 2 * base["memory_gb"]
    with pytest.raises(InvalidInput):
        designs.BoardInputs(players=0)
    feed = designs.feed_figures()
    assert feed["inserts_hybrid"] < feed["inserts_push"]
    assert "**Sizing.**" in designs.feed_answer().markdown


def test_missing_figures_follow_chapter_07s_models():
    numbers = designs.missing_figures(seed_coalesced=0.5)
    report = loadmodel.evaluate()
    assert numbers["shards"] == report.db_servers_after == 70
    assert numbers["shards_merged"] == 35


def _numbers(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {label}")).split("|")[2].strip()


def test_cheatsheet_numbers_are_the_librarys():
    text = sheet.cheatsheet()
    plan, report = capacity.plan(), loadmodel.evaluate()
    assert _numbers(text, "masters + replicas") == f"{plan.masters} + {plan.replicas} = {plan.cache_servers}"
    assert _numbers(text, "p50 / p99 read") == f"{report.after_p50_ms:.1f} ms / {report.after_p99_ms:.1f} ms"
    assert _numbers(text, "cache fleet") == f"\\${plan.cache_monthly:,.0f}"
    assert _numbers(text, "net saving").startswith("-\\$24,000")
    policies = figures.eviction_figures()
    assert f"{policies['lru']:.1%} / {policies['lfu']:.1%}" in _numbers(text, "LRU / LFU / FIFO")
    assert re.search(r"(?<!\\)\$", text) is None  # every dollar escaped


def test_cheatsheet_changes_when_a_model_input_changes():
    smaller = sheet.cheatsheet(capacity_inputs=capacity.CapacityInputs(ram_per_server_gb=256))
    assert _numbers(smaller, "masters + replicas") == "80 + 160 = 240"
    hotter = sheet.cheatsheet(load_inputs=loadmodel.LoadInputs(hit_ratios=0.95))
    assert _numbers(hotter, "hit ratio") == "95%"


def test_cli_writes_the_cheatsheet(tmp_path, capsys):
    out = tmp_path / "sheet.md"
    assert main(["course", "cheatsheet", "--output", str(out)]) == 0
    assert out.read_text().startswith("# Caching cheat sheet")
    assert str(out) in capsys.readouterr().out
