"""The projection dashboards: generated from DEMOS, each served by Voila with its explorer live."""

import urllib.request

import nbformat
import pytest

from whatsapp_cache import cli
from whatsapp_cache.course import demos, widgets
from whatsapp_cache.errors import InvalidInput


def test_the_tracked_demo_notebooks_are_what_the_registry_writes(tmp_path):
    for written in demos.write_notebooks(tmp_path):
        tracked = demos.demos_dir() / written.name
        assert tracked.exists(), f"{tracked} missing: run demos.write_notebooks()"
        assert nbformat.read(tracked, 4) == nbformat.read(written, 4)


def test_every_demo_names_an_explorer_that_exists():
    for demo in demos.DEMOS.values():
        assert callable(getattr(widgets, demo.explorer)), demo.explorer


def test_an_unknown_demo_is_a_clear_error(capsys):
    with pytest.raises(InvalidInput, match="capacity, eviction"):
        demos.find("nosuch")
    assert cli.main(["course", "demo", "nosuch"]) == 2
    assert "the demos are" in capsys.readouterr().err


def test_the_demo_list_names_each_one(capsys):
    assert cli.main(["course", "demo"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in demos.DEMOS)


def test_voila_serves_a_dashboard_with_its_widgets_and_stops():
    process, url = demos.start("capacity")
    try:
        page = urllib.request.urlopen(url, timeout=180).read().decode()
    finally:
        demos.stop(process)
    assert process.poll() is not None
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "Traceback" not in page
