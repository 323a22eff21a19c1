"""The write models pin their arithmetic: only mergeable writes are merged, and presence by design writes less."""

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.experiments.loadmodel import LoadInputs
from whatsapp_cache.experiments.writes import (SECONDS_PER_DAY, SEED_MESSAGES_PER_DAY, PresenceInputs, format_presence,
                                               format_splits, presence_writes, split_writes)

MEASURED = 474 / 988  # chapter 07: write-behind sent 474 of 988 writes to the database (48.0%)


def test_the_seed_s_694_k_writes_a_second_are_60_billion_messages_a_day():
    assert round(SEED_MESSAGES_PER_DAY / SECONDS_PER_DAY, -3) == 694_000


def test_merging_every_write_is_the_34_servers_the_chapter_printed():
    """The old cell applied the measured 48.0% to all writes: only right if none is a message."""
    assert split_writes(0.0, MEASURED).db_servers == 34


def test_messages_are_never_merged_so_all_messages_keeps_70_servers():
    split = split_writes(1.0, MEASURED)
    assert split.db_writes_per_s == 694_000 and split.db_servers == 70
    assert split.fraction_to_db == 1.0


@pytest.mark.parametrize("share, to_db, servers", [(0.9, 657_895, 66), (0.75, 603_738, 61), (0.5, 513_476, 52)])
def test_only_the_mergeable_share_is_merged(share, to_db, servers):
    split = split_writes(share, MEASURED)
    assert split.message_writes_per_s == pytest.approx(694_000 * share)
    assert split.db_writes_per_s == pytest.approx(694_000 * share + 694_000 * (1 - share) * MEASURED)
    assert round(split.db_writes_per_s) == to_db
    assert split.db_servers == servers


def test_splits_follow_the_load_inputs():
    split = split_writes(0.5, 0.0, LoadInputs(writes_per_s=100_000, db_writes_per_server=1_000))
    assert split.db_writes_per_s == 50_000 and split.db_servers == 50


def test_split_table_has_a_line_per_share():
    lines = format_splits(MEASURED).splitlines()
    assert len(lines) == 2 + 5
    assert lines[2].split()[-1] == "70" and lines[-1].split()[-1] == "34"


def test_presence_per_heartbeat_is_online_users_over_the_interval():
    result = presence_writes()
    assert result.per_heartbeat_per_s == pytest.approx(100e6 / 60)  # 1,666,667 writes/s
    assert result.per_heartbeat_servers == 167


def test_presence_by_design_is_one_write_per_online_period():
    result = presence_writes()
    assert result.by_design_per_s == pytest.approx(1e9 * 10 / 86_400)  # 115,741 writes/s
    assert result.by_design_servers == 12
    assert result.ratio == pytest.approx(14.4)
    assert result.mean_online_period_s == pytest.approx(864)  # 14.4 minutes


def test_the_ratio_is_an_online_period_in_heartbeats_whatever_the_scale():
    small = presence_writes(PresenceInputs(users_online=1_000, heartbeat_interval_s=30, daily_users=10_000,
                                           online_periods_per_day=8.64))
    assert small.per_heartbeat_per_s == pytest.approx(1_000 / 30)
    assert small.by_design_per_s == pytest.approx(1.0)
    assert small.ratio == pytest.approx(small.mean_online_period_s / 30)


def test_presence_table_names_both_designs():
    text = format_presence(presence_writes())
    assert "1,666,667" in text and "115,741" in text and "14.4x" in text


@pytest.mark.parametrize("kwargs", [{"users_online": -1}, {"heartbeat_interval_s": 0},
                                    {"daily_users": float("inf")}, {"online_periods_per_day": "10"}], ids=repr)
def test_bad_presence_input_raises_invalid_input(kwargs):
    with pytest.raises(InvalidInput):
        PresenceInputs(**kwargs)


@pytest.mark.parametrize("args", [(1.5, 0.5), (-0.1, 0.5), (0.5, 2), (0.5, float("nan"))])
def test_bad_split_input_raises_invalid_input(args):
    with pytest.raises(InvalidInput):
        split_writes(*args)
