"""The load model reproduces the seed's "Performance Impact" figures, then the ones it leaves out."""

import random
from dataclasses import replace

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.experiments.loadmodel import (LoadInputs, breakdown, cdf, evaluate, format_breakdown, format_report,
                                                  mean_ms, overall_hit_ratio, quantile, read_latency, seed_inputs,
                                                  servers_needed, worst_case_ms)

SEED = evaluate(seed_inputs())


def test_seed_average_latency_is_its_worst_case_arithmetic():
    assert SEED.hit_ratio == pytest.approx(0.80)
    assert SEED.seed_after_ms == pytest.approx(0.8 * 5 + 0.2 * 100) == pytest.approx(24.0)
    assert SEED.seed_before_ms == pytest.approx(100.0)
    assert SEED.seed_latency_reduction == pytest.approx(0.76)


def test_seed_database_reads_drop_from_1_5_m_to_300_k():
    assert SEED.reads_per_s == 1_500_000
    assert SEED.db_reads_after == pytest.approx(300_000)
    assert SEED.db_read_reduction == pytest.approx(0.80)


def test_seed_database_servers_70_to_14_by_cutting_writes_with_the_read_hit_ratio():
    assert SEED.db_servers_before == 70  # 694 K / 10 K = 69.4
    assert SEED.seed_writes_after == pytest.approx(138_800)
    assert SEED.seed_db_servers_after == 14  # 138.8 K / 10 K = 13.88


def test_a_read_cache_leaves_every_write_so_70_servers_stay():
    assert SEED.writes_to_db == 694_000
    assert SEED.db_servers_after == 70
    assert SEED.db_load_after == pytest.approx(300_000 + 694_000)
    assert SEED.db_load_reduction == pytest.approx(1 - 994_000 / 2_194_000)


@pytest.mark.parametrize("fraction, servers", [(1.0, 70), (0.5, 35), (0.2, 14), (0.0, 0)])
def test_write_behind_coalescing_is_what_lowers_the_server_count(fraction, servers):
    report = evaluate(replace(seed_inputs(), write_fraction_to_db=fraction))
    assert report.db_servers_after == servers
    assert report.seed_db_servers_after == 14


def test_the_seed_s_14_servers_need_about_one_write_in_five_to_reach_the_database():
    assert SEED.write_fraction_for_seed_servers == pytest.approx(140_000 / 694_000)
    report = evaluate(replace(seed_inputs(), write_fraction_to_db=SEED.write_fraction_for_seed_servers))
    assert report.db_servers_after == 14


def test_mean_uses_the_ranges_midpoints_and_a_miss_pays_its_cache_check():
    assert SEED.before_mean_ms == pytest.approx(75.0)
    assert SEED.after_mean_ms == pytest.approx(0.8 * 3 + 0.2 * (3 + 75))
    without_check = evaluate(replace(seed_inputs(), cache_checks_per_miss=0))
    assert without_check.after_mean_ms == pytest.approx(0.8 * 3 + 0.2 * 75)
    assert without_check.seed_after_ms == pytest.approx(SEED.seed_after_ms)


def test_p50_is_a_cache_hit_and_p99_sits_at_the_database_tier_s_top():
    assert SEED.after_p50_ms == pytest.approx(3.5)  # 0.8 x (x - 1) / 4 = 0.5
    assert SEED.after_p50_ms < SEED.seed_after_ms
    assert 99 <= SEED.after_p99_ms <= 105
    assert SEED.after_p99_ms == pytest.approx(100.5)  # 5% tail of U(1,5) + U(50,100)
    assert SEED.before_p50_ms == pytest.approx(75.0)
    assert SEED.before_p99_ms == pytest.approx(99.5)


def test_exact_cdf_of_a_sum_of_uniforms_matches_the_triangle():
    triangle = ((1.0, ((0.0, 1.0), (0.0, 1.0))),)
    assert cdf(triangle, 0.5) == pytest.approx(0.125)
    assert cdf(triangle, 1.0) == pytest.approx(0.5)
    assert cdf(triangle, 1.5) == pytest.approx(0.875)
    assert cdf(triangle, -1) == 0 and cdf(triangle, 3) == 1


@pytest.mark.parametrize("checks", [0, 1, 2, 3])
def test_exact_quantiles_agree_with_a_seeded_monte_carlo(checks):
    inputs = replace(seed_inputs(), cache_checks_per_miss=checks)
    mixture = read_latency(inputs, 0.8)
    rng = random.Random(7)
    samples = sorted(_sample(mixture, rng) for _ in range(100_000))
    for q in (0.5, 0.9, 0.99):
        assert quantile(mixture, q) == pytest.approx(samples[int(q * len(samples))], abs=0.6)
    assert mean_ms(mixture) == pytest.approx(sum(samples) / len(samples), abs=0.3)


def _sample(mixture, rng):
    weights = [w for w, _ in mixture]
    _, path = rng.choices(mixture, weights)[0]
    return sum(rng.uniform(low, high) for low, high in path)


def test_worst_case_is_the_top_of_every_tier():
    assert worst_case_ms(read_latency(seed_inputs(), 0.8)) == pytest.approx(0.8 * 5 + 0.2 * (5 + 100))


def test_degenerate_tiers_are_constants():
    inputs = replace(seed_inputs(), cache_ms=(2.0, 2.0), database_ms=(80.0, 80.0))
    report = evaluate(inputs)
    assert report.after_p50_ms == pytest.approx(2.0)
    assert report.after_p99_ms == pytest.approx(82.0)
    assert report.after_mean_ms == pytest.approx(0.8 * 2 + 0.2 * 82)


def test_per_type_defaults_are_the_seed_s_and_weigh_to_88_percent_with_an_equal_mix():
    inputs = LoadInputs()
    assert dict(inputs.hit_ratios) == {"sessions": 0.95, "presence": 1.0, "messages": 0.70, "profiles": 0.90,
                                       "groups": 0.85}
    assert overall_hit_ratio(inputs) == pytest.approx(0.88)
    mostly_messages = LoadInputs(read_mix={"messages": 5 / 9, "sessions": 1 / 9, "presence": 1 / 9,
                                           "profiles": 1 / 9, "groups": 1 / 9})
    assert overall_hit_ratio(mostly_messages) == pytest.approx(0.80)


def test_breakdown_rows_add_up_to_the_overall_row():
    rows = breakdown(LoadInputs())
    *types, overall = rows
    assert [r.data_type for r in types] == ["sessions", "presence", "messages", "profiles", "groups"]
    assert overall.data_type == "overall"
    for name in ("reads_per_s", "cache_hits_per_s", "db_reads_per_s"):
        assert sum(getattr(r, name) for r in types) == pytest.approx(getattr(overall, name))
    assert overall.mean_ms == pytest.approx(sum(r.read_share * r.mean_ms for r in types))
    presence = types[1]
    assert presence.db_reads_per_s == 0 and presence.p99_ms < 5


def test_breakdown_splits_time_between_tiers():
    overall = breakdown(seed_inputs())[-1]
    assert overall.cache_tier_ms == pytest.approx(3.0)  # one round trip on a hit, one check on a miss
    assert overall.database_tier_ms == pytest.approx(0.2 * 75)
    assert overall.mean_ms == pytest.approx(SEED.after_mean_ms)


@pytest.mark.parametrize("checks", [0, 1, 2])
def test_more_hits_mean_less_latency_and_less_database_load(checks):
    reports = [evaluate(replace(seed_inputs(), hit_ratios=h / 20, cache_checks_per_miss=checks)) for h in range(21)]
    for lower, higher in zip(reports, reports[1:]):
        assert higher.seed_after_ms < lower.seed_after_ms
        assert higher.after_mean_ms < lower.after_mean_ms
        assert higher.after_p50_ms <= lower.after_p50_ms + 1e-9
        assert higher.after_p99_ms <= lower.after_p99_ms + 1e-9
        assert higher.db_reads_after < lower.db_reads_after
        assert higher.db_load_after < lower.db_load_after


def test_more_writes_reaching_the_database_need_more_servers():
    counts = [evaluate(replace(seed_inputs(), write_fraction_to_db=f / 10)).db_servers_after for f in range(11)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 70


def test_servers_needed_rounds_up_but_ignores_float_dust():
    assert servers_needed(694_000, 10_000) == 70
    assert servers_needed(700_000, 10_000) == 70
    assert servers_needed(0.1 * 3 * 100_000, 10_000) == 3  # 30000.000000000004
    assert servers_needed(30_001, 10_000) == 4


def test_report_table_shows_the_seed_s_figures_and_is_deterministic():
    text = format_report(SEED)
    assert text == format_report(evaluate(seed_inputs()))
    for figure in ("24.0", "100.0", "76.0%", "1,500,000", "300,000", "138,800", "694,000", "994,000", "20.2%"):
        assert figure in text
    servers = next(line for line in text.splitlines() if line.startswith("database servers after"))
    assert servers.split()[-2:] == ["14", "70"]


def test_breakdown_table_has_a_row_per_type_and_overall():
    text = format_breakdown(breakdown(LoadInputs()))
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["data", "type"]
    assert len(lines) == 2 + 5 + 1 + 1
    assert lines[-1].startswith("overall") and "88.0%" in lines[-1]


BAD_INPUTS = [
    {"read_mix": {}}, {"read_mix": {"sessions": 0.5}}, {"read_mix": {"sessions": 1.5, "presence": -0.5}},
    {"read_mix": {"emails": 1.0}}, {"read_mix": [("sessions", 1.0)]}, {"read_mix": {"sessions": "1"}},
    {"hit_ratios": 1.2}, {"hit_ratios": -0.1}, {"hit_ratios": float("nan")}, {"hit_ratios": True},
    {"hit_ratios": "0.8"}, {"hit_ratios": {"sessions": 0.9}}, {"hit_ratios": {"sessions": 2, "presence": 1,
                                                                            "messages": 1, "profiles": 1,
                                                                            "groups": 1}},
    {"cache_ms": (5, 1)}, {"cache_ms": (-1, 5)}, {"cache_ms": 3}, {"cache_ms": (1, 2, 3)},
    {"database_ms": (50, float("inf"))}, {"cache_checks_per_miss": -1}, {"cache_checks_per_miss": 1.5},
    {"cache_checks_per_miss": 11}, {"reads_per_s": -1}, {"writes_per_s": float("nan")}, {"writes_per_s": None},
    {"db_writes_per_server": 0}, {"db_writes_per_server": -10}, {"write_fraction_to_db": 1.01},
    {"write_fraction_to_db": -0.01},
]


@pytest.mark.parametrize("kwargs", BAD_INPUTS, ids=repr)
def test_bad_input_raises_invalid_input(kwargs):
    with pytest.raises(InvalidInput) as caught:
        LoadInputs(**kwargs)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("q", [-0.1, 1.1, "0.5", None])
def test_bad_quantile_raises_invalid_input(q):
    with pytest.raises(InvalidInput):
        quantile(read_latency(seed_inputs(), 0.8), q)


def test_inputs_are_frozen_and_copied():
    ratios = {"sessions": 0.9, "presence": 0.9, "messages": 0.9, "profiles": 0.9, "groups": 0.9}
    inputs = LoadInputs(hit_ratios=ratios)
    ratios["sessions"] = 0.0
    assert inputs.hit_ratios["sessions"] == 0.9
    with pytest.raises(TypeError):
        inputs.hit_ratios["sessions"] = 0.1
    with pytest.raises(AttributeError):
        inputs.reads_per_s = 1
