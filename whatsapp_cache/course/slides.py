"""Slides from the chapters themselves: a talk is a selection of a notebook's cells.

    whatsapp-cache course slides              # write the slide metadata of every talk
    whatsapp-cache course slides 05           # one chapter's talk
    whatsapp-cache course slides --html DIR   # also build reveal.js HTML with nbconvert

TALKS names, per chapter, the cells a class sees and how (by cell id, which stays stable when a
cell's text changes). `apply` writes `metadata.slideshow.slide_type` on every cell: the named
ones get their type, every other cell "skip", so RISE in JupyterLab and nbconvert's slides
exporter show the talk and nothing else. Only metadata changes: sources and stored outputs stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..errors import InvalidInput
from .chapters import notebooks_dir

# The five RISE and nbconvert read (the notebook format leaves slide types to the tools): slide starts a
# new slide, subslide one below it, fragment appears on the next key press, notes go to the speaker
# view, skip is never shown.
SLIDE_TYPES = ("slide", "subslide", "fragment", "notes", "skip")
# RISE reads its options from the notebook's "rise" metadata: long code cells scroll inside a slide
RISE_OPTIONS = {"scroll": True, "enable_chalkboard": False}
# nbconvert's default (a CDN); a folder holding reveal.js 4 can replace it for a room without network
REVEAL_CDN = "https://unpkg.com/reveal.js@4.0.2"


@dataclass(frozen=True)
class Talk:
    chapter: str  # a notebook stem, e.g. "05_stampede"
    minutes: int  # about how long it takes to present
    cells: tuple[tuple[str, str], ...]  # (cell id, slide type) in the notebook's order

    def slide_type(self, cell_id: str) -> str:
        return dict(self.cells).get(cell_id, "skip")


def _talk(chapter: str, minutes: int, spec: str) -> Talk:
    """A talk from lines of 'cell-id type' (comments after '#' say what the cell is)."""
    cells = []
    for line in spec.strip().splitlines():
        cell_id, kind = line.split("#")[0].split()
        cells.append((cell_id, kind))
    return Talk(chapter, minutes, tuple(cells))


TALKS = {talk.chapter: talk for talk in (
    _talk("00_welcome", 10, """
        817aefb9 slide     # 00. Welcome: the seed's architecture
        8dec3ce0 slide     # 2. The architecture (the diagram)
        52eda502 fragment  # the database is the source of truth
        22ecf9c0 slide     # 4. A world in one line
        52e63908 fragment  # World()
        62839c84 slide     # 5. A first request, followed
        5eb5faa4 fragment  # watch_commands: a miss
        3b05373b subslide  # the commands, as redis-cli shows them
        a67f13c5 fragment
        ac54d3a8 subslide  # ask again: a hit
        9c3f7aa7 fragment
        ef13ccac notes     # aside: why a simulated clock
        fc6dadad slide     # 6. A first workload
        6443ed4a fragment  # the tour's table
        f34134af fragment  # notice two things
        ee2fa97d slide     # 7. Summary
    """),
    _talk("02_cache_patterns", 15, """
        2ea70da4 slide     # 02. Cache patterns
        1bcf19c9 slide     # 1. The three patterns and where the seed uses them
        d0b0ce69 slide     # 3. Cache-aside
        46b2a759 fragment
        a36779f2 subslide  # the stale-set race
        49b9f30d fragment
        27ad38ed subslide  # the fix: a guarded fill
        fd770562 fragment
        b3bcbc44 notes     # aside: memcache at Facebook
        2a8e4943 slide     # 4. Write-through, and writers out of order
        efdf652a subslide
        33cfa891 fragment
        67d46a89 subslide  # versions inside the SET script
        84583498 fragment
        0ae56510 slide     # 5. Write-behind
        2d27b018 subslide  # record and stream in one script
        d4a0b291 fragment
        d3c43cc7 subslide  # one worker pass coalesces
        fdaf43ec fragment
        1cd4faaf slide     # 6. All patterns, one workload
        f201425f subslide  # the same table as pictures
        218c0bf5 fragment
        ccb4e332 slide     # 7. Summary
    """),
    _talk("05_stampede", 15, """
        0862166f slide     # 05. Stampede protection
        b630e757 slide     # 1. The herd
        8668b9c6 fragment  # four strategies, 100 readers (real threads: ranges in INSTRUCTOR.md)
        37d24857 subslide  # who loaded what, and when
        723a63a0 fragment
        f0da9e04 slide     # 2. The seed's lock, and the lock done right
        019ff2cf subslide  # the first read loads once
        b0bd1b39 fragment
        a1dfe7a3 subslide  # a holder dies with the lock
        d8b781cb fragment
        c72e6165 subslide  # releasing someone else's lock
        e099b349 fragment
        526de127 slide     # 3. XFetch
        c79ca639 fragment  # the recompute probability curves
        4f10d41f subslide  # the same numbers in a table
        38ee25ae fragment
        8d7519cf slide     # 4. All strategies, one herd
        83c9433c slide     # 5. Summary
    """),
    _talk("06_failure_and_recovery", 15, """
        e939d282 slide     # 06. Failure and recovery
        59399765 slide     # 1. One request while Redis is away
        33d58d5f fragment
        d85a9432 slide     # 2. The trap: a client that retries for seconds
        9bc40593 fragment
        caeb0b16 subslide  # how long the default could wait
        9b80f63a fragment
        f1033ee8 slide     # 3. The circuit breaker, step by step
        a94f5eb8 fragment
        cfa06ed0 slide     # 5. The experiment: a workload through an outage
        864f98b9 fragment
        eb913a81 subslide  # reading the phases table
        23339995 fragment
        d9e129b1 slide     # 7. The seed's Q2, answered with numbers
        32521024 fragment
        67e028c9 fragment
        ef1fb64d slide     # 10. Summary
    """),
)}


def find(chapter: str) -> Talk:
    """The talk of a chapter, named by its number ("05") or its stem ("05_stampede")."""
    for stem, talk in TALKS.items():
        if chapter in (stem, stem[:2]):
            return talk
    raise InvalidInput(f"no talk for chapter {chapter!r}; the talks are: {', '.join(TALKS)}")


def missing_cells(talk: Talk, notebook: nbformat.NotebookNode) -> list[str]:
    """The talk's cell ids that the notebook does not have (a cell was deleted or replaced)."""
    present = {cell.id for cell in notebook.cells}
    return [cell_id for cell_id, _ in talk.cells if cell_id not in present]


def slideshow(talk: Talk, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with the talk's slide types on every cell (a copy; sources and outputs untouched)."""
    missing = missing_cells(talk, notebook)
    if missing:
        raise InvalidInput(f"{talk.chapter}: the talk names cells the notebook lacks: {', '.join(missing)}")
    result = nbformat.from_dict(notebook)
    for cell in result.cells:
        cell.metadata["slideshow"] = {"slide_type": talk.slide_type(cell.id)}
    result.metadata["rise"] = dict(RISE_OPTIONS)
    return result


def apply(chapters: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """Write the slide metadata of the named talks (all when None); return the notebooks changed."""
    folder = folder or notebooks_dir()
    changed = []
    for talk in [find(name) for name in chapters] if chapters else TALKS.values():
        path = folder / f"{talk.chapter}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        updated = slideshow(talk, notebook)
        if updated != notebook:
            nbformat.write(updated, path)
            changed.append(path)
    return changed


def shown(talk: Talk, notebook: nbformat.NotebookNode) -> list[str]:
    """The first line of each cell the talk shows, for a summary on the terminal."""
    lines = []
    for cell in notebook.cells:
        kind = talk.slide_type(cell.id)
        if kind in ("slide", "subslide"):
            lines.append(f"  {kind:<8} {cell.source.splitlines()[0][:70] if cell.source else ''}")
    return lines


def build_html(chapters: list[str] | None, target: Path, reveal: str = REVEAL_CDN) -> list[Path]:
    """Each talk as a reveal.js page with nbconvert's slides exporter (stored outputs, no execution).

    `reveal` is where the pages load reveal.js 4 from: the CDN by default (the pages then need the
    network), or a local folder holding it (the npm package's folder), which is copied beside the
    pages together with require.js from Voila's install, so the slides work with no network."""
    from nbconvert import SlidesExporter

    target.mkdir(parents=True, exist_ok=True)
    exporter = SlidesExporter(reveal_url_prefix=reveal)
    if Path(reveal).is_dir():
        exporter = SlidesExporter(**_local_assets(Path(reveal), target))
    pages = []
    for talk in [find(name) for name in chapters] if chapters else TALKS.values():
        notebook = slideshow(talk, nbformat.read(notebooks_dir() / f"{talk.chapter}.ipynb", as_version=4))
        body, _ = exporter.from_notebook_node(notebook)
        page = target / f"{talk.chapter}.slides.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    return pages


def _local_assets(reveal_dir: Path, target: Path) -> dict:
    """Copy reveal.js and require.js beside the pages; the exporter options that point at the copies."""
    import shutil
    import sys

    if not (reveal_dir / "dist" / "reveal.js").exists():
        raise InvalidInput(f"{reveal_dir} holds no dist/reveal.js: give the folder of reveal.js 4 (its npm package)")
    copy = target / "reveal.js"
    if copy.resolve() != reveal_dir.resolve():
        shutil.copytree(reveal_dir, copy, dirs_exist_ok=True)
    options = {"reveal_url_prefix": "reveal.js"}
    require = Path(sys.prefix) / "share/jupyter/voila/templates/base/static/require.min.js"
    if require.exists():  # Voila (the course extra) ships it; without it the page falls back to the CDN
        shutil.copy(require, target / "require.min.js")
        options["require_js_url"] = "require.min.js"
    return options


def rise_url(base: str, path: str, token: str | None = None) -> str:
    """The URL jupyterlab-rise serves a notebook's slideshow at: <base>/rise/<path>."""
    url = f"{base.rstrip('/')}/rise/{path.lstrip('/')}"
    return f"{url}?token={token}" if token else url
