"""The stored notebooks are complete: fresh navigation, executed top to bottom, few skipped outputs."""

import shutil

import nbformat
import pytest

from whatsapp_cache.db.dataset import session_token
from whatsapp_cache.course.chapters import (CHAPTERS, NAV_TAG, jupyter_lab_command, nav_markdown, notebooks_dir,
                                            refresh_navigation)

NOTEBOOKS = [c for c in CHAPTERS if (notebooks_dir() / c.filename).exists()]


def test_the_first_chapters_exist_with_the_primer_between_00_and_01():
    assert [c.stem for c in NOTEBOOKS[:3]] == ["00_welcome", "00b_redis_primer", "01_what_to_cache"]


def test_navigation_cells_are_current(tmp_path):
    for chapter in NOTEBOOKS:
        shutil.copy(notebooks_dir() / chapter.filename, tmp_path / chapter.filename)
    assert refresh_navigation(tmp_path) == []


def test_navigation_names_the_neighbours():
    bar = nav_markdown(2)
    assert "00b. Redis in 20 minutes" in bar and "02. Cache patterns" in bar and "Contents" in bar


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda c: c.stem)
def test_notebook_is_stored_executed(chapter):
    notebook = nbformat.read(notebooks_dir() / chapter.filename, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    navigation = [cell for cell in notebook.cells if NAV_TAG in cell.metadata.get("tags", [])]
    assert notebook.cells[0] in navigation and notebook.cells[-1] in navigation
    skipped = [cell for cell in code if {"nbval-ignore-output", "nbval-skip"} & set(cell.metadata.get("tags", []))]
    assert len(skipped) / len(code) <= 0.15  # the house rule: widget and real-timing cells only, and few


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda c: c.stem)
def test_notebook_outputs_show_no_password_and_no_token(chapter):
    notebook = nbformat.read(notebooks_dir() / chapter.filename, as_version=4)
    outputs = str([cell.get("outputs", []) for cell in notebook.cells])
    tokens = (session_token(0, f"u{i:06d}") for i in range(2000))
    assert "s3cret" not in outputs
    assert not [token for token in tokens if token in outputs]


def test_open_starts_jupyterlab_on_the_first_chapter():
    command = jupyter_lab_command(["--no-browser"])
    assert command[1:4] == ["-m", "jupyter", "lab"]
    assert command[4] == f"--ServerApp.root_dir={notebooks_dir().parent}"
    assert command[5] == str(notebooks_dir() / "00_welcome.ipynb") and "--no-browser" in command


def _defines(source: str) -> list[str]:
    """Names of the functions and classes a code cell defines (magics and shell lines left out)."""
    import ast

    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return [node.name for node in ast.walk(ast.parse(code))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def test_notebooks_define_no_functions_but_exercise_stubs_and_their_solutions():
    """Logic lives in the library: a notebook cell may define a function only as a learner's exercise stub
    (tagged `exercise`) or its worked answer (tagged `solution`)."""
    paths = sorted(notebooks_dir().glob("*.ipynb")) + sorted((notebooks_dir() / "solutions").glob("*.ipynb"))
    assert len(paths) >= 10
    found = []
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            allowed = {"exercise", "solution"} & set(cell.metadata.get("tags", []))
            if cell.cell_type == "code" and not allowed and (names := _defines(cell.source)):
                found.append(f"{path.name} {cell.get('id')}: {', '.join(names)}")
    assert found == []


def test_a_function_in_an_untagged_cell_is_caught():
    assert _defines("import x\n\n\ndef helper(a):\n    return a\n%time helper(1)") == ["helper"]
    assert _defines("print(lambda: 1)") == []
