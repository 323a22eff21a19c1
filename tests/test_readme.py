"""The README's two commands are the ones CI runs, and its notebook list matches the course."""

from pathlib import Path

from whatsapp_cache.course.chapters import CHAPTERS

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [line for line in quickstart.splitlines() if line.startswith("python3 -m venv")]


def test_quickstart_has_exactly_two_commands():
    commands = _commands()
    assert len(commands) == 2
    assert "course open" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_word_for_word():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in ci_lines


def test_readme_lists_every_chapter_in_order():
    readme = (ROOT / "README.md").read_text()
    positions = [readme.index(chapter.title) for chapter in CHAPTERS]
    assert positions == sorted(positions)
