"""Distribution over a Redis Cluster: slot balance (pure), memory per master, a big hot group and its remedy."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from support import started_cluster

from whatsapp_cache.db import dataset
from whatsapp_cache.lab.distribution import (big_group_load, dataset_keys, even_split, master_index, memory_balance,
                                             presence_balance, presence_key, shard_keys, shard_of, slot_balance)
from whatsapp_cache.errors import InvalidInput
from whatsapp_cache.keys import KeySchema


@pytest.fixture(scope="module")
def small():
    return dataset.generate("small")


@pytest.fixture(scope="module")
def cluster():
    yield from started_cluster(masters=3, replicas_per_master=1)


def test_the_even_split_is_the_labs():
    assert even_split(3) == ((0, 5460), (5461, 10921), (10922, 16383))
    assert [master_index(s, even_split(3)) for s in (0, 5460, 5461, 16383)] == [0, 0, 1, 2]


def test_every_key_of_the_data_set_is_placed_and_the_split_is_even(small):
    keys = dataset_keys(small)
    counts = small.counts()
    assert {kind: len(names) for kind, names in keys.items()} == {
        "session": counts["sessions"], "profile": counts["users"], "recent": counts["conversations"],
        "group": counts["chat_groups"], "presence": 1}
    balance = slot_balance(small)
    assert sum(balance.totals()) == sum(map(len, keys.values())) == 7301
    assert balance.totals() == (2365, 2502, 2434) and balance.ratio < 1.1
    assert [kinds.get("presence", 0) for kinds in balance.per_master] == [0, 0, 1]
    assert "max/min 1.058" in balance.describe()


def test_presence_is_one_slot_and_sharding_by_user_spreads_it(small):
    single = presence_balance(small)
    assert single.keys == 1 and sorted(single.per_master) == [0, 0, 2000]
    sharded = presence_balance(small, shards=64)
    assert sharded.keys == 64 and sum(sharded.per_master) == 2000 and min(sharded.per_master) > 0
    assert presence_key("u000001", 1) == KeySchema().presence()
    assert presence_key("u000001", 64) == f"wc:{{presence#{shard_of('u000001', 64)}}}:last_seen"


def test_sub_set_keys_carry_their_own_hash_tags():
    assert shard_keys("g1", 1) == ["wc:group:{g1}:members"]
    keys = shard_keys("g1", 4)
    assert keys[3] == "wc:group:{g1#3}:members" and len({key_slot(k.encode()) for k in keys}) == 4
    assert sorted(set(shard_of(f"u{i}", 8) for i in range(1000))) == list(range(8))


@pytest.mark.live
def test_memory_per_master_after_loading_the_data_set(cluster, small, figures):
    result = memory_balance(cluster, small)
    assert len(result.rows) == 3
    assert sum(keys for _, keys, _, _ in result.rows) == 6881  # empty conversations and groups are not cached
    assert all(usage > 0 and grown > 0 for _, _, usage, grown in result.rows) and result.ratio >= 1
    figures(result.describe())


@pytest.mark.live
def test_a_big_group_lives_on_one_master_and_sub_sets_spread_it(cluster, figures):
    one = big_group_load(cluster, members=100_000, shards=1, reads=5)
    sent = sorted(row[3] for row in one.rows)
    assert sent == [0, 0, 500_000] and sorted(row[2] for row in one.rows) == [0, 0, 5]
    assert one.ratio == float("inf")
    split = big_group_load(cluster, members=100_000, shards=32, reads=5)
    assert sum(row[3] for row in split.rows) == 500_000 and sum(row[2] for row in split.rows) == 32 * 5
    assert all(row[3] > 0 for row in split.rows) and split.ratio < 1.5
    figures(one.describe())
    figures(split.describe())


def test_bad_input_is_refused():
    for call in (lambda: even_split(0), lambda: slot_balance("small"), lambda: presence_balance(None),
                 lambda: shard_keys("g1", 0), lambda: presence_key("u1", True), lambda: dataset_keys(3),
                 lambda: memory_balance("lab", None), lambda: big_group_load("lab")):
        with pytest.raises(InvalidInput):
            call()
