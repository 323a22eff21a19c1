"""The notebook series: its chapters, the navigation bars, and a command to rebuild them.

    python -m whatsapp_cache course open     # start JupyterLab on the first chapter
    python -m whatsapp_cache course nav      # rewrite the top and bottom navigation cells
    python -m whatsapp_cache course build    # nav, then execute every notebook in place
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NAV_TAG = "navigation"


@dataclass(frozen=True)
class Chapter:
    stem: str
    title: str

    @property
    def number(self) -> str:
        """The chapter's number as its file name starts: '00', '00b', '01'."""
        return self.stem.partition("_")[0]

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"


CHAPTERS = (
    Chapter("00_welcome", "Welcome: the seed's architecture, run for real"),
    Chapter("00b_redis_primer", "Redis in 20 minutes, and why Redis"),
    Chapter("01_what_to_cache", "What to cache: the five data types"),
    Chapter("02_cache_patterns", "Cache patterns: cache-aside, write-through, write-behind"),
    Chapter("03_invalidation", "Invalidation: TTL, explicit and pub/sub"),
    Chapter("04_eviction", "Eviction: LRU, LFU and FIFO"),
    Chapter("05_stampede", "Stampede protection"),
    Chapter("06_failure_and_recovery", "Failure and recovery"),
    Chapter("07_performance_and_capacity", "Performance, capacity and cost"),
    Chapter("08_scaling_out", "Scaling out: replicas, failover and Redis Cluster"),
    Chapter("09_interview_drill", "The interview drill"),
)


WORKSPACE_ENV = "WHATSAPP_CACHE_WORKSPACE"


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def workspace_dir() -> Path:
    """Where a learner's own copies of the notebooks live (git ignores it): $WHATSAPP_CACHE_WORKSPACE,
    else workspace/ beside the tracked notebooks, which stay pristine."""
    import os

    return Path(os.environ.get(WORKSPACE_ENV) or notebooks_dir().parent / "workspace")


def _link(chapter: Chapter, folder: Path, label: str) -> str:
    if (folder / chapter.filename).exists():
        return f"[{label}]({chapter.filename})"
    return f"{label} (coming soon)"


def nav_markdown(index: int, folder: Path | None = None) -> str:
    """The bar for chapter `index`: previous | contents | next, naming the neighbours."""
    folder = folder or notebooks_dir()
    parts = []
    if index > 0:
        previous = CHAPTERS[index - 1]
        parts.append("&lt; " + _link(previous, folder, f"{previous.number}. {previous.title}"))
    parts.append("[Contents](../README.md)")
    if index + 1 < len(CHAPTERS):
        following = CHAPTERS[index + 1]
        parts.append(_link(following, folder, f"{following.number}. {following.title}") + " &gt;")
    return "*whatsapp-cache course* | " + " | ".join(parts)


def refresh_navigation(folder: Path | None = None) -> list[Path]:
    """Rewrite the navigation cells (tagged 'navigation') of every existing chapter; return changed files."""
    import nbformat

    folder = folder or notebooks_dir()
    changed = []
    for index, chapter in enumerate(CHAPTERS):
        path = folder / chapter.filename
        if not path.exists():
            continue
        notebook = nbformat.read(path, as_version=4)
        bar = nav_markdown(index, folder)
        cells = [c for c in notebook.cells if NAV_TAG in c.get("metadata", {}).get("tags", [])]
        if any(c.source != bar for c in cells):
            for cell in cells:
                cell.source = bar
            nbformat.write(notebook, path)
            changed.append(path)
    return changed


def execute(path: Path, timeout: int = 600) -> None:
    """Run a notebook top to bottom in its own folder and store its outputs."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # wall-clock timestamps: noise in every diff
    nbformat.write(notebook, path)


def jupyter_lab_command(extra: list[str] = ()) -> list[str]:
    """The JupyterLab command that opens the course (allowed to run as root, as in containers)."""
    import os
    import sys

    root = notebooks_dir().parent  # the repository, so the README the navigation links to is reachable
    first = str(notebooks_dir() / CHAPTERS[0].filename)
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}", first, *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise; containers and CI run as root
    return command


def solutions_dir() -> Path:
    """The reference solutions of the chapters' exercises, one notebook per chapter."""
    return notebooks_dir() / "solutions"


def build(names: list[str] | None = None) -> list[Path]:
    """Refresh navigation, then execute the chosen (default: all existing) chapters and their solutions."""
    folder = notebooks_dir()
    refresh_navigation(folder)
    paths = [folder / c.filename for c in CHAPTERS if (folder / c.filename).exists()]
    paths += sorted(solutions_dir().glob("*.ipynb"))
    paths = [path for path in paths if not names or any(path.stem.startswith(name.removesuffix(".ipynb"))
                                                        for name in names)]
    for path in paths:
        execute(path)
    return paths
