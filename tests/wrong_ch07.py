"""Chapter 07's answers the exercise checks must reject: the seed's arithmetic slips and typical wrong answers."""

import math


def _gb(items, bytes_per_gb=10**9):
    return sum(count * size for count, size in items.values()) / bytes_per_gb


# cache_fleet(items, buffer, ram_per_server_gb, replicas_per_master) -> (masters, servers) --------

def fleet_without_the_buffer(items, buffer, ram_per_server_gb, replicas_per_master):
    masters = math.ceil(_gb(items) / ram_per_server_gb)
    return masters, masters * (1 + replicas_per_master)


def fleet_counting_replicas_as_copies(items, buffer, ram_per_server_gb, replicas_per_master):
    masters = math.ceil(_gb(items) * (1 + buffer) / ram_per_server_gb)
    return masters, masters * replicas_per_master  # "3x" read as 2 replicas, but the masters are servers too


def fleet_in_gibibytes(items, buffer, ram_per_server_gb, replicas_per_master):
    masters = math.ceil(_gb(items, 2**30) * (1 + buffer) / ram_per_server_gb)  # not the seed's GB
    return masters, masters * (1 + replicas_per_master)


def fleet_adding_one_server(items, buffer, ram_per_server_gb, replicas_per_master):
    masters = int(_gb(items) * (1 + buffer) / ram_per_server_gb) + 1  # one too many when it divides exactly
    return masters, masters * (1 + replicas_per_master)


def fleet_rounding_to_nearest(items, buffer, ram_per_server_gb, replicas_per_master):
    masters = round(_gb(items) * (1 + buffer) / ram_per_server_gb)  # 39.4 servers' worth on 39 servers
    return masters, masters * (1 + replicas_per_master)


# mean_read_latency(hit_ratio, cache_ms, database_ms) --------------------------------------------

def seed_mean(hit_ratio, cache_ms, database_ms):
    if not 0 <= hit_ratio <= 1:
        raise ValueError("a fraction")
    return hit_ratio * cache_ms + (1 - hit_ratio) * database_ms  # a miss pays nothing for its cache check


def mean_with_the_ratio_swapped(hit_ratio, cache_ms, database_ms):
    if not 0 <= hit_ratio <= 1:
        raise ValueError("a fraction")
    return (1 - hit_ratio) * cache_ms + hit_ratio * (cache_ms + database_ms)


def mean_without_a_range_check(hit_ratio, cache_ms, database_ms):
    return hit_ratio * cache_ms + (1 - hit_ratio) * (cache_ms + database_ms)  # 80 (percent) gives -5,922 ms


WRONG = {
    "cache_fleet": [
        ("no buffer", fleet_without_the_buffer, "the seed's sizes give its 40 masters"),
        ("replicas counted as all the copies", fleet_counting_replicas_as_copies, "the seed's sizes give"),
        ("GiB (2^30 bytes), not the seed's GB", fleet_in_gibibytes, "the seed's sizes give"),
        ("int() + 1 instead of ceil", fleet_adding_one_server, "data that exactly fills its servers"),
        ("round() instead of ceil", fleet_rounding_to_nearest, "other sizes, buffers"),
    ],
    "mean_read_latency": [
        ("the seed's formula", seed_mean, "when every read misses"),
        ("hit ratio swapped for the miss ratio", mean_with_the_ratio_swapped, "when every read hits"),
        ("no range check", mean_without_a_range_check, "a hit ratio outside 0..1"),
    ],
}


# database_servers(writes_per_s, hit_ratio, write_fraction_to_db, writes_per_server) ---------------

def seed_database_servers(writes_per_s, hit_ratio, write_fraction_to_db, writes_per_server):
    return math.ceil(writes_per_s * (1 - hit_ratio) / writes_per_server)  # writes cut by the read hit ratio


def database_servers_for_all_writes(writes_per_s, hit_ratio, write_fraction_to_db, writes_per_server):
    return math.ceil(round(writes_per_s / writes_per_server, 9))  # write-behind's merging ignored


def database_servers_rounded(writes_per_s, hit_ratio, write_fraction_to_db, writes_per_server):
    return round(writes_per_s * write_fraction_to_db / writes_per_server)  # 33.3 servers' worth on 33


WRONG["database_servers"] = [
    ("the seed's writes x (1 - hit ratio)", seed_database_servers, "the seed's inputs, every write"),
    ("the write share ignored", database_servers_for_all_writes, "with 20.2% of the writes"),
    ("round() instead of ceil", database_servers_rounded, "the seed's inputs, every write"),
]
