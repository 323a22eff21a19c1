"""INSTRUCTOR.md stays true: every command in its code blocks parses, every section it names exists."""

import re
import shlex

import nbformat
import pytest

from whatsapp_cache.cli import build_parser
from whatsapp_cache.course import demos, slides
from whatsapp_cache.course.chapters import notebooks_dir

KIT = notebooks_dir().parent / "INSTRUCTOR.md"
SECTION = re.compile(r"\[(\d\d_[a-z_]+) § ([^\]]+)\]")


def _text() -> str:
    return KIT.read_text(encoding="utf-8")


def commands(text: str) -> list[list[str]]:
    """The arguments of every `whatsapp-cache ...` line inside a fenced code block (any prefix path)."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                if re.match(r"(\S*/)?whatsapp-cache(\s|$)", part.strip()):  # a shell line, not output
                    found.append(shlex.split(part)[1:])
    return found


def sections(text: str) -> list[tuple[str, str]]:
    return [(stem, " ".join(heading.split())) for stem, heading in SECTION.findall(text)]


def _headings(stem: str) -> set[str]:
    notebook = nbformat.read(notebooks_dir() / f"{stem}.ipynb", as_version=4)
    return {line[3:].strip() for cell in notebook.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("## ")}


def test_the_kit_has_both_plans_the_demo_script_and_the_ranges():
    text = _text()
    for title in ("## A 45-minute class", "## A 90-minute class", "## Live-demo script",
                  "## Expected ranges", "## Prepare the room"):
        assert title in text
    assert "RANGES_TABLE" not in text


def test_every_command_in_a_code_block_parses():
    found = commands(_text())
    assert len(found) >= 15
    parser = build_parser()
    for args in found:
        parsed = parser.parse_args(args)  # argparse exits (SystemExit) on a command that does not parse
        if args[:2] == ["course", "demo"] and parsed.notebooks:
            demos.find(parsed.notebooks[0])
        if args[:2] == ["course", "slides"]:
            for word in parsed.notebooks:
                if not word.startswith("-") and word.isdigit():
                    slides.find(word)
    shown = {" ".join(args) for args in found}
    for needed in ("tour", "chaos --naive", "chaos --mode failover", "simulate --policy", "cluster up",
                   "cluster status", "cluster down", "course demo herd", "course doctor", "course slides"):
        assert any(line.startswith(needed.split()[0]) and needed in line for line in shown), needed


def test_commands_are_found_after_a_venv_path_and_in_chains():
    text = "```bash\npython3 -m venv .venv && .venv/bin/whatsapp-cache course open\nwhatsapp-cache tour\n```"
    assert commands(text) == [["course", "open"], ["tour"]]


def test_a_command_that_does_not_parse_is_caught():
    with pytest.raises(SystemExit):
        build_parser().parse_args(commands("```\nwhatsapp-cache chaos --mode nosuch\n```")[0])


def test_every_section_the_kit_names_exists():
    named = sections(_text())
    assert len(named) >= 15
    for stem, heading in named:
        assert (notebooks_dir() / f"{stem}.ipynb").exists(), stem
        assert heading in _headings(stem), f"{stem} has no section '## {heading}'"


def test_a_renamed_section_is_caught():
    [(stem, heading)] = sections("see [05_stampede § 1. The crowd]")
    assert heading not in _headings(stem)


def test_every_notebook_path_the_kit_names_exists():
    for path in re.findall(r"notebooks/[\w/]+\.ipynb", _text()):
        assert (notebooks_dir().parent / path).exists(), path
