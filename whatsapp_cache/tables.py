"""Fixed-width text tables: each column a header, an alignment and a format; widths from the content.

    format_table([Column("policy", "<"), Column("hits", format=","),       policy  hits hit ratio
                  Column("hit ratio", format=".4f")],                       ----------------------
                 [("lru", 1234, 0.7329), ("lfu", 1250, 0.7583)], rule="-")  lru    1,234    0.7329
                                                                            lfu    1,250    0.7583

A column is as wide as its header and widest cell, or its given `width` if that is more. A row is a
sequence of values (None prints blank), `RULE` (a line of the rule character), or a plain string
(printed as is). A row shorter than the columns ends in a cell that runs on, unaligned; so does
every cell of a left-aligned last column (no trailing spaces).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence


@dataclass(frozen=True)
class Column:
    """One column: its header, "<" (left) or ">" (right), a format spec for its values, a least width,
    and the text before it when not the table's gap."""

    header: str
    align: str = ">"
    format: str = ""
    width: int = 0
    gap: str | None = None


RULE = object()


def table_lines(columns: Sequence[Column], rows: Iterable, *, gap: str = " ", rule: str = "",
                title: Iterable[str] = (), header: bool = True) -> list[str]:
    """The table as lines: title lines, the header, a rule under it if `rule` names its character, the rows."""
    rows = [row if row is RULE or isinstance(row, str) else _cells(columns, row) for row in rows]
    widths = _widths(columns, [row for row in rows if isinstance(row, list)], header)
    gaps = ["", *(gap if c.gap is None else c.gap for c in columns[1:])]
    full = sum(widths) + sum(map(len, gaps))
    lines = [*title]
    if header:
        lines.append(_line(columns, widths, gaps, [c.header for c in columns]))
        if rule:
            lines.append(rule * full)
    for row in rows:
        if isinstance(row, str):
            lines.append(row)
        elif row is RULE:
            lines.append((rule or "-") * full)
        else:
            lines.append(_line(columns, widths, gaps, row))
    return lines


def format_table(columns: Sequence[Column], rows: Iterable, **options: Any) -> str:
    """The table as one string (see table_lines for the options)."""
    return "\n".join(table_lines(columns, rows, **options))


def _cells(columns: Sequence[Column], row: Sequence) -> list[str]:
    if len(row) > len(columns):
        raise ValueError(f"a row of {len(row)} cells for {len(columns)} columns")
    formats = [column.format for column in columns[:len(row)]]
    if 0 < len(row) < len(columns):
        formats[-1] = ""  # a short row's last cell runs on as it is
    return ["" if value is None else format(value, spec) for value, spec in zip(row, formats)]


def _widths(columns: Sequence[Column], rows: list[list[str]], header: bool) -> list[int]:
    """Each column's width: its least width, header and cells, leaving out a short row's last (run-on) cell."""
    aligned = [row if len(row) == len(columns) else row[:-1] for row in rows]
    return [max([column.width, len(column.header) if header else 0, *(len(row[k]) for row in aligned if k < len(row))])
            for k, column in enumerate(columns)]


def _line(columns: Sequence[Column], widths: list[int], gaps: list[str], cells: list[str]) -> str:
    last = len(columns) - 1
    parts = []
    for k, cell in enumerate(cells):
        runs_on = k == len(cells) - 1 and (k < last or columns[k].align == "<")
        parts.append(gaps[k] + (cell if runs_on else f"{cell:{columns[k].align}{widths[k]}}"))
    return "".join(parts)
