"""How long each chapter's Run All takes, beside the targets: 30 s a notebook, 180 s for all of them.

Each notebook runs top to bottom the way nbval runs it (nbclient, a python3 kernel in the current
environment, the notebook's own folder as working directory), on a copy in memory: nothing is
written back. Prints one row per notebook and the total against the nbval target; asserts nothing
(timings on a shared machine are noisy). `--cells N` also lists the N slowest cells of each.

    python benchmarks/notebook_runtimes.py [--only 08 --only 06] [--cells 5]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

import nbformat
from tqdm import tqdm

from whatsapp_cache.course.chapters import CHAPTERS, notebooks_dir
from whatsapp_cache.course.kernel import notebook_client

TARGET_NOTEBOOK_S = 30.0
TARGET_TOTAL_S = 180.0


def chapter_paths(only: list[str]) -> list[Path]:
    """The chapters' notebooks, in course order; only those whose name starts with one of `only`, if given."""
    paths = [notebooks_dir() / chapter.filename for chapter in CHAPTERS]
    return [path for path in paths if path.exists() and (not only or path.name.startswith(tuple(only)))]


def run_all(path: Path, timeout: int) -> tuple[float, object]:
    """Execute the notebook at `path` in memory; return its wall-clock seconds and the executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    client = notebook_client(notebook, path, timeout, record_timing=True)  # a lost wake-up costs 1 s, not the timeout
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started, notebook


def cell_seconds(cell) -> float:
    """A code cell's execution time, from the timestamps nbclient recorded (request sent to reply)."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def slowest_cells(notebook, count: int) -> list[str]:
    """The `count` slowest code cells: index, seconds and their first line."""
    timed = [(cell_seconds(cell), index, cell.source.splitlines()[-1] if cell.source else "")
             for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    return [f"    cell {index:>2} {seconds:6.1f} s  {line[:70]}"
            for seconds, index, line in sorted(timed, reverse=True)[:count]]


def verdict(seconds: float, target: float) -> str:
    return "met" if seconds <= target else "NOT met"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="a notebook name prefix, e.g. 08 (repeatable)")
    parser.add_argument("--cells", type=int, default=0, help="also list each notebook's N slowest cells")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    rows, details = [], []
    for path in tqdm(chapter_paths(args.only), desc="Run All", unit="notebook"):
        seconds, notebook = run_all(path, args.timeout)
        rows.append((path.stem, seconds))
        if args.cells:
            details += [path.stem, *slowest_cells(notebook, args.cells)]
    print(f"{'notebook':<32} {'Run All s':>9} {'target s':>9} {'/ target':>9}  verdict")
    for name, seconds in rows:
        print(f"{name:<32} {seconds:>9.1f} {TARGET_NOTEBOOK_S:>9.0f} {seconds / TARGET_NOTEBOOK_S:>8.2f}x"
              f"  {verdict(seconds, TARGET_NOTEBOOK_S)}")
    total = sum(seconds for _, seconds in rows)
    print(f"{'total (' + str(len(rows)) + ' notebooks)':<32} {total:>9.1f} {TARGET_TOTAL_S:>9.0f}"
          f" {total / TARGET_TOTAL_S:>8.2f}x  {verdict(total, TARGET_TOTAL_S)}")
    if details:
        print("\nslowest cells\n" + "\n".join(details))


if __name__ == "__main__":
    main()
