"""The glossary: generated from course/glossary.py, current on disk, and every link to it lands on an entry."""

from __future__ import annotations

import re

import nbformat
import pytest

from whatsapp_cache.cli import main
from whatsapp_cache.course import glossary
from whatsapp_cache.course.chapters import notebooks_dir
from whatsapp_cache.errors import InvalidInput

LINK = re.compile(r"\]\(glossary\.md#([^)\s]+)\)")


def _markdown_sources() -> dict[str, str]:
    """Every notebook's markdown, and the README, by file name."""
    sources = {path.name: "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells
                                    if cell.cell_type == "markdown")
               for path in sorted(notebooks_dir().rglob("*.ipynb"))}
    sources["README.md"] = (notebooks_dir().parent / "README.md").read_text()
    return sources


def test_the_file_on_disk_is_what_the_terms_generate():
    assert glossary.GLOSSARY.read_text() == glossary.render(), "run: python -m whatsapp_cache course glossary"


def test_every_link_to_the_glossary_has_its_entry():
    anchors = {term.anchor for term in glossary.TERMS}
    broken = {name: sorted(set(LINK.findall(text)) - anchors) for name, text in _markdown_sources().items()}
    assert not {name: links for name, links in broken.items() if links}


def test_terms_and_anchors_are_unique_and_each_entry_has_its_anchor():
    names = [term.name.lower() for term in glossary.TERMS]
    anchors = [term.anchor for term in glossary.TERMS]
    assert len(set(names)) == len(names) and len(set(anchors)) == len(anchors)
    text = glossary.render()
    assert all(f'<a id="{anchor}"></a>' in text for anchor in anchors)


def test_the_primer_links_every_term_it_teaches_and_the_chapters_link_theirs():
    sources = _markdown_sources()
    for term in glossary.TERMS:
        assert f"glossary.md#{term.anchor}" in sources[f"{term.chapter}.ipynb"], (term.name, term.chapter)


def test_the_terms_the_issue_names_are_there():
    for name in ("Zipf skew", "p50 / p99", "Hit ratio", "Hash slot", "Hash tag", "Stampede", "Lease",
                 "Generation token", "Cache-aside", "Write-through", "Write-behind", "Stream", "Consumer group",
                 "TTL", "Eviction", "LRU", "LFU", "Replication lag", "Failover"):
        assert glossary.find(name).name == name


def test_anchor_and_link():
    assert glossary.anchor("p50 / p99") == "p50-p99" and glossary.anchor("MULTI/EXEC") == "multi-exec"
    assert glossary.link("hash tag", "braces") == "[braces](glossary.md#hash-tag)"
    for bad in ("", " / "):
        with pytest.raises(InvalidInput):
            glossary.anchor(bad)
    with pytest.raises(InvalidInput):
        glossary.find("no such term")


def test_the_course_command_writes_the_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "glossary.md"
    monkeypatch.setattr(glossary, "GLOSSARY", target)
    assert main(["course", "glossary"]) in (0, None)
    assert target.read_text() == glossary.render() and str(target) in capsys.readouterr().out
