"""The one table formatter: widths, alignment, formats, rules, titles, and the rows that are not cells."""

import pytest

from whatsapp_cache.tables import RULE, Column, format_table, table_lines

POLICY = (Column("policy", "<"), Column("hits", format=","), Column("hit ratio", format=".4f"))


def test_widths_come_from_the_header_and_the_widest_cell():
    text = format_table(POLICY, [("lru", 1234, 0.73291), ("allkeys-lfu", 7, 0.75832)], rule="-")
    assert text.splitlines() == [
        "policy       hits hit ratio",
        "---------------------------",
        "lru         1,234    0.7329",
        "allkeys-lfu     7    0.7583",
    ]


def test_a_given_width_is_a_least_width_as_in_an_f_string():
    columns = (Column("policy", "<", width=10), Column("size", width=9))
    assert table_lines(columns, [("lru", 47)]) == [f"{'policy':<10} {'size':>9}", f"{'lru':<10} {47:>9}"]
    assert table_lines((Column("n", width=2),), [(12345,)]) == ["    n", "12345"]  # the column widens to fit


def test_none_prints_blank_and_a_right_aligned_last_column_keeps_its_padding():
    columns = (Column("policy", "<"), Column("model", format=".4f", width=7))
    lines = table_lines(columns, [("random", None), ("lru", 0.5)])
    assert lines == ["policy   model", "random" + " " * 8, "lru     0.5000"]


def test_a_left_aligned_last_column_runs_on_without_trailing_spaces():
    columns = (Column("step"), Column("cache now", "<"))
    assert table_lines(columns, [(1, "a"), (2, "a b c d e f")]) == ["step cache now", "   1 a", "   2 a b c d e f"]


def test_rule_rows_plain_strings_and_a_title():
    lines = table_lines(POLICY[:2], [("lru", 1), RULE, ("overall", 1), "2 rows"], rule="=", title=["on fakeredis"])
    assert lines == ["on fakeredis", "policy  hits", "============", "lru        1", "============",
                     "overall    1", "2 rows"]


def test_a_rule_row_without_a_rule_under_the_header_is_dashes():
    assert table_lines((Column("a"),), [(1,), RULE]) == ["a", "1", "-"]


def test_the_rule_spans_every_column_with_its_gaps():
    columns = (Column("figure", "<"), Column("seed"), Column("why", "<"))
    lines = table_lines(columns, [("masters", 40, "ceil(39.84)")], gap="  ", rule="-")
    assert lines[1] == "-" * len("masters  seed  ceil(39.84)")


def test_a_column_may_have_its_own_gap():
    columns = (Column("request"), Column("", "<", width=4, gap="  "), Column("evicts", "<", width=7, gap="  "),
               Column("cache now", "<"))
    assert table_lines(columns, [("a", "miss", "-", "a")]) == ["request        evicts  cache now",
                                                                "      a  miss  -       a"]


def test_a_short_row_ends_in_a_cell_that_runs_on_unformatted_and_uncounted():
    columns = (Column("backend", "<"), Column("hit p50", format=",.0f"), Column("hit p99", format=",.0f"))
    lines = table_lines(columns, [("embedded", 25.4, 90), ("live", "unavailable: connection refused")])
    assert lines == ["backend  hit p50 hit p99", "embedded      25      90", "live     unavailable: connection refused"]
    assert table_lines(columns, [()]) == ["backend hit p50 hit p99", ""]


def test_without_a_header():
    columns = (Column("", "<"), Column("", "<", width=7), Column("", "<"))
    lines = table_lines(columns, [("Python", "ok", "3.11"), ("memcached", "MISSING", "")], gap="  ", header=False)
    assert lines == ["Python     ok       3.11", "memcached  MISSING  "]


def test_format_table_joins_the_lines():
    assert format_table(POLICY, [("lru", 1, 0.5)]) == "\n".join(table_lines(POLICY, [("lru", 1, 0.5)]))


def test_a_row_with_more_cells_than_columns_is_refused():
    with pytest.raises(ValueError, match="3 cells for 2 columns"):
        table_lines(POLICY[:2], [("lru", 1, 2)])
