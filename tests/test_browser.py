"""Every notebook in JupyterLab in a real browser (headless Chromium), as a learner meets it.

For each notebook (chapters and solutions, copies in a temporary folder): nothing looks broken
when it is opened, Run All leaves no error output and no traceback, and every widget panel
answers a change of each kind of control with a new, complete output. Screenshots and the
timings go to browser-report/ (git ignores it); the table of timings is printed at the end.

Marked `browser`: skip it locally with `-m "not browser"`. It needs Debian's Chromium at
/usr/bin/chromium (`.ci/run` installs it); without it the test skips, or fails in CI
(WHATSAPP_CACHE_REQUIRE_LIVE=1). Timings are recorded, never asserted (speed claims live in
benchmarks/); a redraw that never completes within lab_browser.REDRAW_TIMEOUT_S is a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import lab_browser
import pytest

from whatsapp_cache.course.chapters import notebooks_dir


pytestmark = pytest.mark.browser
REPORT_DIR = Path(os.environ.get("WHATSAPP_CACHE_BROWSER_REPORT") or notebooks_dir().parent / "browser-report")
NOTEBOOKS = sorted("notebooks/" + str(p.relative_to(notebooks_dir())) for p in notebooks_dir().rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
# The notebooks to open: the tracked ones, or (to check a build before storing it) another folder
SOURCE = Path(os.environ.get("WHATSAPP_CACHE_BROWSER_NOTEBOOKS") or notebooks_dir())
REPORTS: list = []


@pytest.fixture(scope="module")
def lab(tmp_path_factory, request):
    if not Path(lab_browser.CHROMIUM).exists():
        message = f"no Chromium at {lab_browser.CHROMIUM} (apt-get install chromium)"
        if os.environ.get("WHATSAPP_CACHE_REQUIRE_LIVE") == "1":
            pytest.fail(message + " (WHATSAPP_CACHE_REQUIRE_LIVE=1)")
        pytest.skip(message)
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    folder, home = tmp_path_factory.mktemp("course"), tmp_path_factory.mktemp("home")
    lab_browser.copy_notebooks(SOURCE, folder)
    REPORT_DIR.mkdir(exist_ok=True)
    with lab_browser.LabServer(folder, home) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=lab_browser.CHROMIUM, args=lab_browser.CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield server, context
        context.close()
        browser.close()
    table = _write_report()
    if table:  # on the terminal even when every test passed (pytest hides a passing fixture's prints)
        with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
            print(f"\n\nthe course in the browser (screenshots and timings.json in {REPORT_DIR}):\n{table}")


def _write_report() -> str:
    """Write timings.json and table.txt for the notebooks checked so far; return the table."""
    if not REPORTS:
        return ""
    (REPORT_DIR / "timings.json").write_text(json.dumps([r.as_json() for r in REPORTS], indent=1))
    table = lab_browser.format_table(REPORTS)
    (REPORT_DIR / "table.txt").write_text(table + "\n")
    return table


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: Path(p).stem)
def test_notebook_in_the_browser(lab, path, capsys):
    server, context = lab
    page = context.new_page()
    try:
        report = lab_browser.check_notebook(page, server, path, REPORT_DIR)
    finally:
        page.close()
    REPORTS.append(report)
    _write_report()  # after every notebook, so a run cut short still leaves its findings
    with capsys.disabled():
        print(f"\n{path}: run all {report.run_all_s:.1f} s, {report.panels} panel(s), "
              f"worst redraw {report.worst_redraw_s:.2f} s")
        for redraw in report.redraws:
            print(f"  {redraw.control}: {redraw.seconds:.2f} s")
        for problem in report.problems():
            print(f"  PROBLEM {problem}")
    assert report.problems() == []
