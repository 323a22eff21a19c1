"""Every chapter 01-08 has the course's shape: Aim, Contents matching its headings, exercises each
followed by a check (stored as "not done yet"), a Discussion before a quiz whose every question has an answer
in a collapsed <details> block, a progress line, and navigation to neighbours that exist."""

import re
from pathlib import Path

import nbformat
import pytest

from whatsapp_cache.course.chapters import CHAPTERS, NAV_TAG, notebooks_dir
from whatsapp_cache.course.exercises import exercises

FOLDER = notebooks_dir()
PRACTISED = [(index, chapter) for index, chapter in enumerate(CHAPTERS) if "01" <= chapter.stem[:2] <= "08"]
HEADING = re.compile(r"^## (\d+)\. (.+)$", re.M)
NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _cells(chapter):
    return nbformat.read(FOLDER / chapter.filename, as_version=4).cells


def _markdown(chapter) -> list[str]:
    return [cell.source for cell in _cells(chapter) if cell.cell_type == "markdown"]


def _tagged(cell, tag: str) -> bool:
    return tag in cell.metadata.get("tags", [])


def _headings(chapter) -> list[tuple[str, str]]:
    return [heading for source in _markdown(chapter) for heading in HEADING.findall(source)]


def _quiz(chapter) -> str:
    found = [source for source in _markdown(chapter) if "**Quiz**" in source]
    assert len(found) == 1, f"{chapter.stem}: one cell with a **Quiz**"
    return found[0].split("**Quiz**", 1)[1]


CHAPTER_IDS = [chapter.stem[:2] for _, chapter in PRACTISED]


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_aim_and_contents_matching_the_headings(index, chapter):
    intro = next(source for source in _markdown(chapter) if source.startswith("# "))
    assert "**Aim.**" in intro and "**Contents**" in intro
    contents = NUMBERED.findall(intro.split("**Contents**", 1)[1])
    headings = _headings(chapter)
    assert [number for number, _ in contents] == [number for number, _ in headings] == \
        [str(n) for n in range(1, len(headings) + 1)]
    for (_, item), (_, title) in zip(contents, headings):
        assert item.startswith(title), f"Contents says {item!r}, the heading {title!r}"


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_practice_discussion_and_summary_come_in_order(index, chapter):
    titles = [title for _, title in _headings(chapter)]
    practice = next((i for i, title in enumerate(titles) if title.startswith("Practice")), None)
    discussion = titles.index("Discussion") if "Discussion" in titles else None
    summary = next((i for i, title in enumerate(titles) if title.startswith("Summary")), None)
    assert None not in (practice, discussion, summary), titles
    assert practice < discussion < summary == len(titles) - 1, titles


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_every_exercise_is_followed_by_its_check(index, chapter):
    cells = [cell for cell in _cells(chapter) if cell.cell_type == "code"]
    registered = [e.key for e in exercises(chapter.stem[:2])]
    checked = []
    for position, cell in enumerate(cells):
        if _tagged(cell, "exercise"):
            assert "NotImplementedError" in cell.source, "an exercise is a stub for the learner"
            following = cells[position + 1]
            assert _tagged(following, "check"), f"the code cell after {cell.source[:40]!r} is its check"
            checked += re.findall(r"^check\((\w+)\)", following.source, re.M)
    assert len(registered) >= 2, f"chapter {chapter.stem[:2]} registers at least two exercises"
    assert checked == registered, "one check cell per registered exercise, in the chapter's order"


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_stored_checks_show_not_done_yet(index, chapter):
    """The chapters are stored with their stubs, so each check's stored output is the deterministic screen."""
    for cell in _cells(chapter):
        if _tagged(cell, "check"):
            text = "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)
            assert "Not done yet" in text, f"{chapter.stem}: {cell.source!r} stored without its not-done screen"


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_every_quiz_question_has_an_answer(index, chapter):
    quiz = _quiz(chapter)
    assert quiz.count("<details>") == 1 and "</details>" in quiz, "the answers sit in one collapsed block"
    questions, rest = quiz.split("<details>", 1)
    answers = rest.split("</details>", 1)[0]
    asked = [number for number, _ in NUMBERED.findall(questions)]
    answered = [number for number, text in NUMBERED.findall(answers) if text.strip()]
    assert asked and asked == answered == [str(n) for n in range(1, len(asked) + 1)]


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_a_progress_line_closes_the_chapter(index, chapter):
    code = [cell.source for cell in _cells(chapter) if cell.cell_type == "code"]
    assert f'progress_line("{chapter.stem[:2]}")' in code[-1]


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_navigation_links_to_the_neighbours_that_exist(index, chapter):
    cells = _cells(chapter)
    assert _tagged(cells[0], NAV_TAG) and _tagged(cells[-1], NAV_TAG)
    links = LINK.findall(cells[0].source)
    assert all((FOLDER / link).resolve().exists() for link in links), links
    expected = [CHAPTERS[index - 1].filename, "../README.md"]
    expected += [CHAPTERS[index + 1].filename] if index + 1 < len(CHAPTERS) else []
    assert links == expected


@pytest.mark.parametrize("index, chapter", PRACTISED, ids=CHAPTER_IDS)
def test_every_relative_link_in_the_text_resolves(index, chapter):
    """Links to solutions, other chapters and the README; web addresses and anchors within a page are skipped."""
    for source in _markdown(chapter):
        for link in LINK.findall(source):
            if re.match(r"[a-z]+:", link) or link.startswith("#"):
                continue
            assert (FOLDER / link.split("#", 1)[0]).resolve().exists(), f"{chapter.stem}: {link}"


def test_each_solution_notebook_belongs_to_a_chapter():
    stems = {chapter.stem for chapter in CHAPTERS}
    for path in Path(FOLDER / "solutions").glob("*.ipynb"):
        assert path.stem.removesuffix("_solutions") in stems, path.name
