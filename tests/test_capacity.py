"""The capacity calculator reproduces the seed's 40 masters and 120 servers, and shows where its costs slip."""

import math
from dataclasses import replace

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.experiments.capacity import (GB_PER_TB, SEED_DATA_GB, CapacityInputs, compare_costs, format_claims,
                                                 format_plan, plan, seed_inputs)
from whatsapp_cache.experiments.loadmodel import LoadInputs
from whatsapp_cache.experiments.loadmodel import seed_inputs as seed_load

SEED = plan(seed_inputs())


def coalesced(fraction):
    """The seed's inputs with write-behind letting `fraction` of writes reach the database."""
    return CapacityInputs(load=replace(seed_load(), write_fraction_to_db=fraction))


def test_seed_inputs_are_the_defaults_and_the_seed_s_sizes():
    assert seed_inputs() == CapacityInputs()
    assert dict(SEED_DATA_GB) == {"sessions": 500, "messages": 15_000, "presence": 250, "profiles": 500,
                                  "groups": 750}
    assert GB_PER_TB == 1000


def test_seed_sizes_add_to_17_tb_and_20_4_tb_with_a_20_percent_buffer():
    assert SEED.data_gb == 17_000
    assert SEED.buffer_gb == pytest.approx(3_400)  # the seed writes 3.5 TB
    assert SEED.ram_gb == pytest.approx(20_400)
    assert SEED.ram_tb == pytest.approx(20.4)


def test_seed_fleet_is_40_masters_80_replicas_120_servers():
    assert SEED.masters_exact == pytest.approx(20_400 / 512)
    assert SEED.masters == 40
    assert SEED.replicas == 80
    assert SEED.cache_servers == 120


def test_the_seed_s_own_3_5_tb_buffer_makes_20_5_tb_and_41_masters():
    stated = plan(CapacityInputs(buffer_gb=3_500))
    assert stated.ram_tb == pytest.approx(20.5)
    assert stated.masters == 41  # 20,500 / 512 = 40.04; only the rounding to "~20 TB" gives 40
    assert math.ceil(20_000 / 512) == 40


def test_cache_fleet_costs_24_000_and_the_claimed_28_000_nets_4_000():
    assert SEED.cache_monthly == 24_000
    assert SEED.db_servers_before == 70 and SEED.seed_db_servers_after == 14
    assert SEED.seed_db_savings == 28_000
    assert SEED.seed_net_savings == pytest.approx(4_000)


def test_with_every_write_still_reaching_the_database_nothing_is_saved():
    assert SEED.db_servers_after == 70
    assert SEED.db_savings == 0
    assert SEED.net_savings == -24_000


def test_write_behind_coalescing_one_in_five_recovers_the_seed_s_net():
    coalesced_plan = plan(coalesced(0.2))
    assert coalesced_plan.db_servers_after == 14
    assert coalesced_plan.db_savings == 28_000
    assert coalesced_plan.net_savings == pytest.approx(4_000)


def test_compare_costs_puts_each_claim_beside_the_honest_figure():
    claims = {c.figure: c for c in compare_costs()}
    expect = {
        "RAM, Step 1's estimate (GB)": (19_000, 20_400),
        "buffer (GB)": (3_500, 3_400),
        "RAM (GB)": (20_000, 20_400),
        "masters": (40, 40),
        "cache servers": (120, 120),
        "cache fleet ($/month)": (80_000, 24_000),
        "database servers after": (14, 70),
        "database saved ($/month)": (28_000, 0),
        "net saved ($/month)": (28_000, -24_000),
    }
    assert set(claims) == set(expect)
    for figure, (seed, honest) in expect.items():
        assert (claims[figure].seed, claims[figure].honest) == pytest.approx((seed, honest)), figure
    assert "41" in claims["masters"].note
    assert "4,000" in claims["net saved ($/month)"].note
    assert "20.2%" in claims["database servers after"].note


def test_compare_costs_follows_the_inputs():
    claims = {c.figure: c for c in compare_costs(replace(coalesced(0.2), cache_server_monthly=100))}
    assert claims["cache fleet ($/month)"].honest == 12_000
    assert claims["net saved ($/month)"].honest == 16_000
    assert claims["database servers after"].honest == 14


@pytest.mark.parametrize("usable, masters", [(1.0, 40), (0.75, 54), (0.5, 80)])
def test_headroom_on_each_server_needs_more_masters(usable, masters):
    assert plan(CapacityInputs(usable_fraction=usable)).masters == masters


def test_more_ram_per_server_never_needs_more_masters():
    counts = [plan(CapacityInputs(ram_per_server_gb=gb)).masters for gb in range(64, 4097, 64)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == math.ceil(20_400 / 64) and counts[-1] == 5


def test_a_bigger_buffer_never_needs_fewer_masters():
    counts = [plan(CapacityInputs(buffer=b / 10)).masters for b in range(0, 101)]
    assert counts == sorted(counts)
    assert counts[0] == math.ceil(17_000 / 512)


@pytest.mark.parametrize("replicas", [0, 1, 2, 5])
def test_replicas_multiply_the_fleet(replicas):
    result = plan(CapacityInputs(replicas_per_master=replicas))
    assert result.cache_servers == 40 * (1 + replicas)
    assert result.cache_monthly == 40 * (1 + replicas) * 200


def test_a_higher_hit_ratio_does_not_change_the_honest_database_count():
    for hit in (0.5, 0.8, 0.99):
        result = plan(CapacityInputs(load=LoadInputs(hit_ratios=hit)))
        assert result.db_servers_after == 70
        assert result.seed_db_servers_after == math.ceil(round(694_000 * (1 - hit) / 10_000, 9))


def test_plan_table_lists_every_step_deterministically():
    text = format_plan(SEED)
    assert text == format_plan(plan())
    values = {line[:25].strip(): line[25:].split()[0] for line in text.splitlines()[2:]}
    assert values["masters"] == "40" and values["replicas"] == "80" and values["cache servers"] == "120"
    assert values["RAM (GB)"] == "20,400" and values["cache fleet ($/month)"] == "24,000"
    assert values["net saved ($/month)"] == "-24,000"
    assert "20.4 TB" in text and "39.84" in text


def test_claims_table_has_one_line_per_claim():
    claims = compare_costs()
    lines = format_claims(claims).splitlines()
    assert len(lines) == 2 + len(claims)
    assert "80,000" in lines[2 + [c.figure for c in claims].index("cache fleet ($/month)")]


BAD_INPUTS = [
    {"data_gb": {}}, {"data_gb": {"sessions": -1}}, {"data_gb": {"sessions": float("nan")}},
    {"data_gb": {"sessions": "500"}}, {"data_gb": {"": 5}}, {"data_gb": {3: 5}}, {"data_gb": [("sessions", 5)]},
    {"buffer": -0.01}, {"buffer": 10.5}, {"buffer": float("inf")}, {"buffer": True}, {"buffer_gb": -1},
    {"ram_per_server_gb": 0}, {"ram_per_server_gb": -512}, {"ram_per_server_gb": "512"},
    {"usable_fraction": 0}, {"usable_fraction": 1.5}, {"replicas_per_master": -1},
    {"replicas_per_master": 1.5}, {"replicas_per_master": True}, {"replicas_per_master": 11},
    {"cache_server_monthly": -200}, {"db_server_monthly": None}, {"load": {"hit_ratios": 0.8}},
]


@pytest.mark.parametrize("kwargs", BAD_INPUTS, ids=repr)
def test_bad_input_raises_invalid_input(kwargs):
    with pytest.raises(InvalidInput) as caught:
        CapacityInputs(**kwargs)
    assert isinstance(caught.value, ValueError)


def test_edge_inputs_are_accepted():
    assert plan(CapacityInputs(buffer=10)).ram_gb == 17_000 * 11
    assert plan(CapacityInputs(data_gb={"sessions": 0})).masters == 0
    assert plan(CapacityInputs(data_gb={"media thumbnails": 1_024}, buffer=0)).masters == 2


# --- the cost model: RAM priced per GB, a usable fraction of RAM, a database sized on reads + writes ---

from whatsapp_cache.experiments.capacity import (MODEL_RAM_PRICE_GB_MONTH, compare_models,  # noqa: E402
                                                 database_servers, model_inputs, usable_ram_fraction)

MODEL = plan(model_inputs())


def test_the_seed_s_master_holds_425_gb_of_data_in_a_510_gb_budget_leaving_2_gb():
    assert SEED.data_per_master_gb == 425
    assert SEED.ram_budget_per_master_gb == 510
    assert SEED.headroom_per_master_gb == 2


def test_usable_fraction_is_what_fragmentation_a_fork_and_buffers_leave():
    assert usable_ram_fraction() == pytest.approx(0.95 / (1.2 * 1.5))  # 52.8%
    assert usable_ram_fraction(1.0, 1.0, 0.0) == 0.5  # the Redis docs' worst case: a fork doubles the memory
    assert usable_ram_fraction(1.0, 0.0, 0.0) == 1.0  # the seed: no fork, no waste, no buffers
    with pytest.raises(InvalidInput):
        usable_ram_fraction(fragmentation=0.9)
    with pytest.raises(InvalidInput):
        usable_ram_fraction(fork_copy_share=1.5)


def test_ram_priced_per_gb_makes_a_server_cost_its_ram():
    assert MODEL_RAM_PRICE_GB_MONTH == 4.0  # the seed's Q1: $80,000 for 20,000 GB
    assert model_inputs().server_monthly == 2_048
    big = replace(model_inputs(), ram_per_server_gb=1_024)
    assert big.server_monthly == 2 * model_inputs().server_monthly
    assert seed_inputs().server_monthly == 200  # flat, whatever the RAM


def test_with_ram_priced_per_gb_bigger_servers_are_not_cheaper_for_the_same_data():
    """The seed's flat price made '1 TB, 1 replica' cost half of '512 GB, 1 replica'; per GB they cost the same."""
    flat_small = plan(CapacityInputs(replicas_per_master=1))
    flat_big = plan(CapacityInputs(ram_per_server_gb=1_024, replicas_per_master=1))
    assert (flat_small.cache_monthly, flat_big.cache_monthly) == (16_000, 8_000)
    small = plan(replace(model_inputs(), replicas_per_master=1))
    big = plan(replace(model_inputs(), ram_per_server_gb=1_024, replicas_per_master=1))
    assert (small.masters, big.masters) == (76, 38)
    assert small.cache_monthly == big.cache_monthly == 311_296


def test_model_fleet_is_76_masters_228_servers_at_466_944_a_month():
    assert MODEL.ram_per_master_gb == pytest.approx(512 * 0.95 / 1.8)  # 270.2 GB of maxmemory
    assert MODEL.masters == 76  # ceil(20,400 / 270.2 = 75.49)
    assert MODEL.cache_servers == 228
    assert MODEL.cache_monthly == 228 * 2_048 == 466_944


def test_database_sized_on_reads_plus_writes():
    assert MODEL.db_servers_before == 220  # 1.5 M reads + 694 K writes at 10 K/s a server = 219.4
    assert MODEL.db_servers_after == 100  # 300 K misses + 694 K writes = 99.4
    assert database_servers(300_000, 0, model_inputs()) == 30
    assert database_servers(0, 694_000, model_inputs()) == 70
    assert database_servers(300_000, 694_000, seed_inputs()) == 70  # the seed's sizing ignores reads


def test_the_cache_saves_120_database_servers_but_pays_only_above_3_891_each():
    assert MODEL.db_savings == 120 * 500
    assert MODEL.net_savings == pytest.approx(60_000 - 466_944)
    assert MODEL.break_even_db_server_monthly == pytest.approx(466_944 / 120)  # 3,891.2
    assert SEED.break_even_db_server_monthly is None  # writes only: no server saved


def test_compare_models_puts_the_seed_s_inputs_beside_the_model_s():
    rows = {c.figure: (c.seed, c.honest) for c in compare_models()}
    assert rows["usable share of RAM (%)"] == pytest.approx((100, 52.78), abs=0.01)
    assert rows["maxmemory per master (GB)"] == pytest.approx((512, 270.22), abs=0.01)
    assert rows["masters"] == (40, 76)
    assert rows["cache servers"] == (120, 228)
    assert rows["price per cache server ($/month)"] == (200, 2_048)
    assert rows["cache fleet ($/month)"] == (24_000, 466_944)
    assert rows["database servers before"] == (70, 220)
    assert rows["database servers after"] == (70, 100)
    assert rows["net saved ($/month)"] == pytest.approx((-24_000, -406_944))
    assert rows["break-even database server ($/month)"] == pytest.approx((0, 3_891.2))
    text = format_claims(compare_models(), ("seed", "model"))
    assert text.splitlines()[0].split()[:3] == ["figure", "seed", "model"]
    assert max(map(len, text.splitlines())) <= 100  # fits a laptop pane


@pytest.mark.parametrize("kwargs", [{"ram_price_gb_month": -1}, {"ram_price_gb_month": "4"},
                                    {"db_reads_per_server": 0}, {"db_reads_per_server": float("nan")}], ids=repr)
def test_bad_cost_model_input_raises_invalid_input(kwargs):
    with pytest.raises(InvalidInput):
        CapacityInputs(**kwargs)


def test_compare_models_shows_the_database_saving_the_reads_give():
    rows = {c.figure: (c.seed, c.honest) for c in compare_models()}
    assert rows["database saved ($/month)"] == (0, 60_000)


def test_compare_layouts_prices_each_layout_both_ways():
    from whatsapp_cache.experiments.capacity import compare_layouts

    lines = compare_layouts().splitlines()
    cells = {line.split("  ")[0].strip(): line.split()[-6:] for line in lines[2:]}
    assert cells["512 GB, 2 replicas (seed)"] == ["40", "120", "24,000", "76", "228", "466,944"]
    assert cells["512 GB, 1 replica"] == ["40", "80", "16,000", "76", "152", "311,296"]
    assert cells["1 TB, 1 replica"] == ["20", "40", "8,000", "38", "76", "311,296"]
