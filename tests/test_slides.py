"""Talks from the chapters: slide metadata written from the registry, nothing else in a notebook touched."""

import copy

import nbformat
import pytest

from whatsapp_cache import cli
from whatsapp_cache.course import slides
from whatsapp_cache.course.chapters import notebooks_dir
from whatsapp_cache.errors import InvalidInput


def _read(chapter: str):
    return nbformat.read(notebooks_dir() / f"{chapter}.ipynb", as_version=4)


def test_talks_cover_the_chapters_the_kit_promises():
    assert {"00_welcome", "02_cache_patterns", "05_stampede", "06_failure_and_recovery"} <= set(slides.TALKS)


@pytest.mark.parametrize("chapter", list(slides.TALKS))
def test_every_cell_a_talk_names_exists_with_a_known_type(chapter):
    talk = slides.TALKS[chapter]
    assert slides.missing_cells(talk, _read(chapter)) == []
    assert all(kind in slides.SLIDE_TYPES for _, kind in talk.cells)
    assert talk.cells[0][1] == "slide", "a talk opens on a slide"
    ids = [cell_id for cell_id, _ in talk.cells]
    assert len(ids) == len(set(ids))
    order = [cell.id for cell in _read(chapter).cells]
    assert ids == sorted(ids, key=order.index), "the registry lists cells in the notebook's order"


@pytest.mark.parametrize("chapter", list(slides.TALKS))
def test_the_tracked_notebooks_carry_what_the_registry_writes(chapter):
    notebook = _read(chapter)
    assert slides.slideshow(slides.TALKS[chapter], notebook) == notebook, (
        f"{chapter}: run `whatsapp-cache course slides {chapter[:2]}`")


def test_a_slideshow_changes_metadata_only():
    notebook = _read("05_stampede")
    for cell in notebook.cells:
        cell.metadata.pop("slideshow", None)
    before = copy.deepcopy(notebook)
    after = slides.slideshow(slides.TALKS["05_stampede"], notebook)
    assert notebook == before, "the input notebook is not modified"
    for old, new in zip(before.cells, after.cells):
        assert (old.id, old.source, old.get("outputs")) == (new.id, new.source, new.get("outputs"))
        assert new.metadata["slideshow"]["slide_type"] in slides.SLIDE_TYPES
    skipped = [c for c in after.cells if c.metadata["slideshow"]["slide_type"] == "skip"]
    assert any("navigation" in c.metadata.get("tags", []) for c in skipped)


def test_apply_writes_the_types_into_a_copy(tmp_path):
    source = _read("00_welcome")
    for cell in source.cells:
        cell.metadata.pop("slideshow", None)
    nbformat.write(source, tmp_path / "00_welcome.ipynb")
    assert slides.apply(["00"], tmp_path) == [tmp_path / "00_welcome.ipynb"]
    written = nbformat.read(tmp_path / "00_welcome.ipynb", as_version=4)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in written.cells]
    assert kinds.count("slide") == sum(kind == "slide" for _, kind in slides.TALKS["00_welcome"].cells)
    assert slides.apply(["00"], tmp_path) == [], "a second run changes nothing"


def test_a_talk_naming_a_deleted_cell_is_a_clear_error():
    notebook = _read("02_cache_patterns")
    notebook.cells = [c for c in notebook.cells if c.id != "46b2a759"]
    with pytest.raises(InvalidInput, match="46b2a759"):
        slides.slideshow(slides.TALKS["02_cache_patterns"], notebook)


def test_an_unknown_chapter_is_a_clear_error(capsys):
    with pytest.raises(InvalidInput, match="the talks are"):
        slides.find("04")
    assert cli.main(["course", "slides", "04"]) == 2
    assert "no talk for chapter" in capsys.readouterr().err


def test_the_html_build_holds_each_slide_and_leaves_out_skipped_cells(tmp_path):
    [page] = slides.build_html(["05"], tmp_path)
    html = page.read_text()
    assert f"{slides.REVEAL_CDN}/dist/reveal.js" in html
    assert "The herd" in html and "XFetch" in html
    assert "hot-group" in html  # a fragment's code is there
    assert "04_eviction.ipynb" not in html  # the navigation bar (links to the chapters beside) is skipped


def test_a_local_reveal_folder_is_copied_beside_the_pages(tmp_path):
    fake = tmp_path / "package"
    (fake / "dist").mkdir(parents=True)
    (fake / "dist" / "reveal.js").write_text("// reveal")
    [page] = slides.build_html(["00"], tmp_path / "out", reveal=str(fake))
    html = page.read_text()
    assert '"reveal.js/dist/reveal.js"' in html and "unpkg.com/reveal.js" not in html
    assert (tmp_path / "out" / "reveal.js" / "dist" / "reveal.js").exists()
    if (tmp_path / "out" / "require.min.js").exists():
        assert 'src="require.min.js"' in html
    with pytest.raises(InvalidInput, match="dist/reveal.js"):
        slides.build_html(["00"], tmp_path / "out2", reveal=str(tmp_path))


def test_rise_url_is_the_extension_route():
    assert slides.rise_url("http://127.0.0.1:8888/", "notebooks/05_stampede.ipynb", "t") == (
        "http://127.0.0.1:8888/rise/notebooks/05_stampede.ipynb?token=t")


def test_course_build_keeps_the_talks_current(monkeypatch, capsys):
    from whatsapp_cache.course import chapters

    built = [notebooks_dir() / "01_what_to_cache.ipynb", notebooks_dir() / "05_stampede.ipynb"]
    applied = []
    monkeypatch.setattr(chapters, "build", lambda names: built)  # no execution: only what follows it
    monkeypatch.setattr(slides, "apply", lambda names: applied.append(names) or [])
    assert cli.main(["course", "build", "01", "05"]) == 0
    assert applied == [["05_stampede"]]
    assert "executed and stored" in capsys.readouterr().out
