"""Seeded workload generators (Zipf, uniform, hotspot, scan, scan mix, WhatsApp mix) and trace files."""

import numpy as np
import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.db.dataset import generate
from whatsapp_cache.eviction.workloads import (WHATSAPP_MIX, WORKLOADS, hotspot, load_trace, save_trace, scan,
                                               scan_mix, uniform, whatsapp_keys, whatsapp_mix, zipf)


@pytest.fixture(scope="module")
def small():
    return generate("small", 0)


SYNTHETIC = {
    "zipf": lambda seed: zipf(1_000, 5_000, 1.0, seed),
    "uniform": lambda seed: uniform(1_000, 5_000, seed),
    "hotspot": lambda seed: hotspot(1_000, 5_000, seed=seed),
    "scan": lambda seed: scan(1_000, 5_000, seed),
    "scan_mix": lambda seed: scan_mix(1_000, 5_000, 1.0, 400, 100, seed),
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_same_seed_same_trace_other_seed_other_trace(name):
    make = SYNTHETIC[name]
    assert np.array_equal(make(0), make(0))
    assert not np.array_equal(make(0), make(1))


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_int64_arrays_of_ids_within_the_key_space(name):
    trace = SYNTHETIC[name](0)
    assert trace.dtype == np.int64 and trace.shape == (5_000,)
    assert trace.min() >= 0 and trace.max() < 1_000


def test_the_registry_names_every_generator():
    assert set(WORKLOADS) == {"zipf", "uniform", "hotspot", "scan", "scan_mix", "shifting_zipf", "whatsapp_mix"}
    assert WORKLOADS["zipf"] is zipf and WORKLOADS["whatsapp_mix"] is whatsapp_mix


def test_zero_requests_give_an_empty_trace():
    assert zipf(10, 0).shape == (0,) and uniform(10, 0).dtype == np.int64


def test_zipf_skew_orders_the_counts_and_grows_with_alpha():
    counts = {alpha: np.sort(np.bincount(zipf(1_000, 200_000, alpha, 0), minlength=1_000))[::-1]
              for alpha in (0.0, 0.8, 1.2)}
    top = {alpha: c[:10].sum() / c.sum() for alpha, c in counts.items()}
    assert top[0.0] < 0.02 < top[0.8] < top[1.2]
    # Zipf(1.2): the most popular key against rank 10 is about 10**1.2 = 16 to one
    assert 12 < counts[1.2][0] / counts[1.2][9] < 21


def test_zipf_hot_keys_are_scattered_not_the_first_ids():
    hottest = np.argsort(np.bincount(zipf(10_000, 100_000, 1.0, 0), minlength=10_000))[::-1][:10]
    assert hottest.tolist() != list(range(10)) and hottest.max() > 100


def test_zipf_alpha_zero_is_uniform():
    counts = np.bincount(zipf(10, 100_000, 0.0, 3), minlength=10)
    assert np.all(np.abs(counts / 100_000 - 0.1) < 0.01)


def test_hotspot_sends_its_share_to_its_hot_fraction():
    trace = hotspot(1_000, 100_000, hot_fraction=0.1, hot_share=0.9, seed=0)
    counts = np.sort(np.bincount(trace, minlength=1_000))[::-1]
    assert abs(counts[:100].sum() / 100_000 - 0.9) < 0.01
    assert counts[99] > 3 * counts[100]  # a cliff between the 100 hot keys and the rest


def test_scan_sweeps_in_order_and_wraps():
    trace = scan(100, 350, seed=7)
    assert np.all(np.diff(trace) % 100 == 1)
    assert np.array_equal(np.sort(trace[:100]), np.arange(100))


def test_scan_mix_alternates_zipf_and_sequential_runs():
    trace = scan_mix(1_000, 2_500, 1.0, scan_every=400, scan_length=100, seed=0)
    scans = [trace[start + 400:start + 500] for start in range(0, 2_500, 500)]
    assert all(np.all(np.diff(run) % 1_000 == 1) for run in scans)
    assert np.all(np.diff(np.concatenate(scans)) % 1_000 == 1)  # each scan resumes where the last stopped
    zipf_part = trace[:400]
    assert not np.all(np.diff(zipf_part) % 1_000 == 1)


def test_whatsapp_mix_reads_the_data_sets_keys_in_the_documented_mix(small):
    names = whatsapp_keys(small)
    trace = whatsapp_mix(small, 100_000, seed=0)
    assert trace.dtype == np.int64 and trace.min() >= 0 and trace.max() < len(names)
    kinds = {"session": ":session:", "presence": ":presence:", "recent_messages": ":recent",
             "profile": ":profile", "group_members": ":members"}
    read = np.bincount(trace, minlength=len(names))
    for kind, share in WHATSAPP_MIX:
        ids = [i for i, name in enumerate(names) if kinds[kind] in name]
        assert abs(read[ids].sum() / 100_000 - share) < 0.01, kind
    users, chats = small.tables["users"], small.tables["conversations"]
    assert len(names) == 3 * len(users) + len(chats) + len(small.tables["chat_groups"])


def test_whatsapp_mix_favours_the_busiest_conversation(small):
    names = whatsapp_keys(small)
    per_chat = {}
    for row in small.tables["messages"]:
        per_chat[row["conversation_id"]] = per_chat.get(row["conversation_id"], 0) + 1
    busiest = max(per_chat, key=per_chat.get)
    read = np.bincount(whatsapp_mix(small, 100_000, seed=1), minlength=len(names))
    chat_ids = [i for i, name in enumerate(names) if name.endswith(":recent")]
    assert names[max(chat_ids, key=lambda i: read[i])] == f"wc:chat:{{{busiest}}}:recent"


def test_whatsapp_mix_is_seeded(small):
    assert np.array_equal(whatsapp_mix(small, 1_000, 5), whatsapp_mix(small, 1_000, 5))
    assert not np.array_equal(whatsapp_mix(small, 1_000, 5), whatsapp_mix(small, 1_000, 6))


def test_text_round_trip_keeps_ints(tmp_path):
    trace = zipf(1_000, 2_000, 1.0, 0)
    path = save_trace(trace, tmp_path / "trace.txt")
    assert path.read_text().startswith("#")
    assert np.array_equal(load_trace(path), trace)


def test_named_round_trip_maps_strings_in_first_seen_order(small, tmp_path):
    names = whatsapp_keys(small)
    trace = whatsapp_mix(small, 3_000, 0)
    back, mapping = load_trace(save_trace(trace, tmp_path / "wa.txt", names=names), with_names=True)
    assert [names[i] for i in trace.tolist()] == [list(mapping)[i] for i in back.tolist()]
    assert back[0] == 0 and list(mapping.values()) == list(range(len(mapping)))


def test_text_format_skips_comments_and_blank_lines_and_maps_strings_after_ints(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text("# a comment\n7\n\nalice\n  3  \nbob\nalice\n# the end\n")
    trace, mapping = load_trace(path, with_names=True)
    assert trace.tolist() == [7, 8, 3, 9, 8] and mapping == {"alice": 8, "bob": 9}


def test_csv_with_a_header_reads_the_first_column(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("key,at_ms\n5,100\nuser:1,101\n5,102\n")
    trace, mapping = load_trace(path, with_names=True)
    assert trace.tolist() == [5, 6, 5] and mapping == {"user:1": 6}


@pytest.mark.parametrize("name, content, line", [
    ("spaces.txt", "1\n2\nnot one key\n", 3),
    ("huge.txt", "# header\n1\n99999999999999999999\n", 3),
    ("latin1.txt", b"1\n2\n\xe9t\xe9\n", 3),
    ("nul.txt", b"1\n\x00\x01\n", 2),
    ("empty_key.csv", "key\n1\n,2\n", 3),
    ("no_header.csv", "", 1),
    ("badquote.csv", 'key\n1\n"a"b"\n', 3),
])
def test_bad_files_name_the_line(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InvalidInput, match=rf"line {line}\b"):
        load_trace(path)


def test_files_without_keys_or_missing_are_invalid(tmp_path):
    (tmp_path / "comments.txt").write_text("# nothing\n\n")
    for path in (tmp_path / "comments.txt", tmp_path / "missing.txt"):
        with pytest.raises(InvalidInput):
            load_trace(path)


@pytest.mark.parametrize("call", [
    lambda: zipf(0, 10), lambda: zipf(10, -1), lambda: zipf(10, 10, -0.5), lambda: zipf(10, 10, float("nan")),
    lambda: zipf(10.5, 10), lambda: zipf(True, 10), lambda: zipf(10, 10, "1"), lambda: zipf(10, 10, 1.0, -1),
    lambda: uniform(10, 10, seed=1.5), lambda: hotspot(1, 10), lambda: hotspot(10, 10, hot_fraction=0),
    lambda: hotspot(10, 10, hot_fraction=1), lambda: hotspot(10, 10, hot_share=1.5), lambda: scan(0, 10),
    lambda: scan_mix(10, 10, scan_every=0), lambda: scan_mix(10, 10, scan_length=0),
    lambda: whatsapp_mix(object(), 10), lambda: whatsapp_mix(None, 10),
])
def test_bad_parameters_are_invalid_input(call):
    with pytest.raises(InvalidInput):
        call()


@pytest.mark.parametrize("trace, names", [
    ([[1, 2]], None), ([-1, 2], None), ([1.5], None), ([0, 3], ["a", "b"]), ([0], ["has space"]),
    ([0], ["#comment"]), ([0], "ab"),
])
def test_bad_traces_or_names_are_not_saved(tmp_path, trace, names):
    with pytest.raises(InvalidInput):
        save_trace(trace, tmp_path / "t.txt", names=names)
