"""The notebook series: its chapters, the navigation bars, and a command to rebuild them.

    python -m whatsapp_cache course open     # copy the notebooks into the workspace, start JupyterLab there
    python -m whatsapp_cache course reset 03 # put the tracked chapter 03 back over the learner's copy
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

    from .kernel import notebook_client

    notebook = nbformat.read(path, as_version=4)
    notebook_client(notebook, path, timeout).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # wall-clock timestamps: noise in every diff
    store_static_panels(notebook)
    nbformat.write(notebook, path)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def store_static_panels(notebook) -> int:
    """Keep each widget panel's static HTML copy in the stored outputs, not its widget view; return how many.

    A stored widget view has no model until the kernel runs the cell again, so JupyterLab showed
    "Error displaying widget: model not found" or the raw repr (`VBox(children=...`) where the
    panel should be; the static copy (the panel's first output: text and plot) renders anywhere.
    The saved widget state goes too: nothing refers to it any more.
    """
    replaced = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/html" in data:
                del data[WIDGET_VIEW]
                replaced += 1
    if replaced:
        notebook.metadata.pop("widgets", None)
    return replaced


def _tracked_notebooks() -> list[Path]:
    """The tracked notebooks: every chapter, then the solutions."""
    chapters = [notebooks_dir() / c.filename for c in CHAPTERS if (notebooks_dir() / c.filename).exists()]
    return chapters + sorted(solutions_dir().glob("*.ipynb"))


def _workspace_copy(tracked: Path, folder: Path) -> Path:
    return folder / tracked.relative_to(notebooks_dir())


def prepare_workspace(folder: Path | None = None) -> list[Path]:
    """Copy into the workspace every tracked notebook it does not hold yet; return the copies made.

    A copy already there is the learner's and is kept as it is (`reset_chapters` puts one back),
    so JupyterLab's autosave only ever writes the learner's copies, never the tracked notebooks.
    """
    import shutil

    folder = folder or workspace_dir()
    made = []
    for tracked in _tracked_notebooks():
        copy = _workspace_copy(tracked, folder)
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tracked, copy)
            made.append(copy)
    return made


def reset_chapters(names: list[str], folder: Path | None = None) -> list[Path]:
    """Put the tracked copy back over the learner's for each chapter named (e.g. '03' or '03_invalidation')."""
    import shutil

    from ..errors import InvalidInput

    if not names:
        raise InvalidInput("name the chapters to reset, e.g. `course reset 03`")
    folder = folder or workspace_dir()
    restored = []
    for name in names:
        matches = [t for t in _tracked_notebooks() if t.stem.startswith(name.removesuffix(".ipynb"))
                   and t.parent == notebooks_dir()]
        if not matches:
            raise InvalidInput(f"no chapter named {name[:40]!r}; chapters: "
                               + ", ".join(c.stem[:2] for c in CHAPTERS))
        for tracked in matches:
            copy = _workspace_copy(tracked, folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tracked, copy)
            restored.append(copy)
    return restored


def jupyter_lab_command(extra: list[str] = (), folder: Path | None = None) -> list[str]:
    """The JupyterLab command that opens the course's first chapter in the workspace (root allowed, as in containers)."""
    import os
    import sys

    folder = folder or workspace_dir()
    # the workspace's parent (the repository, by default), so the README the navigation links to is reachable
    root = folder.parent
    first = str(folder / CHAPTERS[0].filename)
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}", first, *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise; containers and CI run as root
    return command


def open_command(extra: list[str] = (), folder: Path | None = None) -> tuple[list[str], str | None]:
    """The command for `course open`, and with --no-browser the URL of chapter 00 (token included) to print.

    With --no-browser the token and port are chosen here (unless given), so the URL is known
    before JupyterLab starts: JupyterLab itself would only print the URL of its start page.
    """
    import secrets

    from ..lab.process import free_port

    extra = list(extra)
    if "--no-browser" not in extra:
        return jupyter_lab_command(extra, folder), None
    folder = folder or workspace_dir()
    token = secrets.token_hex(24)
    port = _option(extra, "port")
    if port is None:
        port = str(free_port())
        extra.append(f"--ServerApp.port={port}")
    if _option(extra, "ip") is None:
        extra.append("--ServerApp.ip=127.0.0.1")
    extra.append(f"--IdentityProvider.token={token}")
    chapter = (folder / CHAPTERS[0].filename).relative_to(folder.parent).as_posix()
    return jupyter_lab_command(extra, folder), f"http://127.0.0.1:{port}/lab/tree/{chapter}?token={token}"


def _option(arguments: list[str], name: str) -> str | None:
    """The value of --name=V or --ServerApp.name=V among JupyterLab's arguments, if given."""
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key in (f"--{name}", f"--ServerApp.{name}") and value:
            return value
    return None


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
