"""The instructor kit in a real browser (headless Chromium): the Voila dashboards and a RISE slideshow.

- Every dashboard (`whatsapp-cache course demo NAME`) opens in Voila with its controls and an
  output; moving a slider (keyboard on its handle) changes the output; every image decodes and
  is not blank.
- One chapter's talk opens as a RISE slideshow in JupyterLab (/rise/<path>), and advancing a
  slide shows the next section's heading.

Marked `browser` like tests/test_browser.py (branch w1-browser), with the same conventions:
Debian's Chromium through Playwright's `executable_path`, JupyterLab on a free loopback port with
a token (`--allow-root` as root), servers stopped by pid, notebooks copied to a temporary folder,
live backend variables removed. Screenshots go to browser-report/kit/ (git ignores browser-report/).
Timings are never asserted; a redraw that never comes within REDRAW_TIMEOUT_S fails.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import time
from pathlib import Path

import pytest

import lab_browser
from whatsapp_cache.course import demos, slides
from whatsapp_cache.course.chapters import notebooks_dir

pytestmark = pytest.mark.browser
CHROMIUM, CHROMIUM_ARGS, LIVE_ENV = lab_browser.CHROMIUM, lab_browser.CHROMIUM_ARGS, lab_browser.LIVE_ENV
REPORT_DIR = Path(os.environ.get("WHATSAPP_CACHE_BROWSER_REPORT") or notebooks_dir().parent / "browser-report") / "kit"
OPEN_TIMEOUT_S = 240  # Voila executes the notebook when the page opens; the machine is shared
REDRAW_TIMEOUT_S = 180
TALK = "05_stampede"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("WHATSAPP_CACHE_REQUIRE_LIVE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        yield context
        context.close()
        chromium.close()


@pytest.fixture(autouse=True)
def _embedded_backends(monkeypatch):
    for name in LIVE_ENV:  # the kernels Voila and JupyterLab start inherit the environment
        monkeypatch.delenv(name, raising=False)


def image_problem(src: str) -> str | None:
    """Why an <img> src is not a whole, non-blank picture; None when it is one."""
    import numpy as np
    from PIL import Image

    if not src.startswith("data:image/"):
        return f"not an inline image: {src[:60]}"
    try:
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        image.load()
    except Exception as error:  # noqa: BLE001 -- the decoder's complaint is the finding
        return f"does not decode: {error}"
    pixels = np.asarray(image.convert("L"), dtype=float)
    if pixels.size == 0 or pixels.std() < 2.0:
        return f"blank ({image.size[0]}x{image.size[1]})"
    return None


def _output_state(page) -> str:
    """The dashboard's output as text plus image sources: what a redraw must change."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.widget-output')).map(
        o => o.innerText + Array.from(o.querySelectorAll('img')).map(i => i.src.length + i.src.slice(-40)).join()
    ).join('|')""")


def _wait_for_output(page, previous: str | None, timeout_s: float) -> str:
    """Wait until the output holds an image and differs from `previous`, and stays so for a moment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _output_state(page)
        if state != previous and page.locator(".widget-output img").count() > 0:
            time.sleep(1.0)
            if _output_state(page) == state:
                return state
        time.sleep(0.5)
    raise AssertionError(f"no new output within {timeout_s} s")


def _open_dashboard(browser, name: str, attempts: int = 2):
    """A fresh Voila server and its page; a server whose page never loads (its kernel hung, seen once in
    CI on a loaded machine) is stopped and one new server tried, so a hang twice still fails."""
    from playwright.sync_api import TimeoutError as PageTimeout

    for attempt in range(1, attempts + 1):
        process, url = demos.start(name)
        page = browser.new_page()
        try:
            page.goto(url, timeout=OPEN_TIMEOUT_S * 1000 // attempts)
            return process, page
        except PageTimeout:
            page.close()
            demos.stop(process)
            if attempt == attempts:
                raise


@pytest.mark.parametrize("name", list(demos.DEMOS))
def test_every_dashboard_opens_answers_a_slider_and_draws_real_images(browser, name):
    process, page = _open_dashboard(browser, name)
    try:
        page.wait_for_selector(".widget-slider .noUi-handle", timeout=OPEN_TIMEOUT_S * 1000)
        assert page.locator(".widget-slider").count() >= 1, "the dashboard shows its controls"
        assert demos.DEMOS[name].title.split(":")[0] in page.inner_text("body")
        first = _wait_for_output(page, None, OPEN_TIMEOUT_S)
        page.screenshot(path=str(REPORT_DIR / f"{name}-open.png"), full_page=True)
        readout = page.locator(".widget-readout").first.inner_text()
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        assert page.locator(".widget-readout").first.inner_text() != readout, "the slider moved"
        _wait_for_output(page, first, REDRAW_TIMEOUT_S)
        page.screenshot(path=str(REPORT_DIR / f"{name}-moved.png"), full_page=True)
        sources = page.eval_on_selector_all("img", "images => images.map(i => i.src)")
        assert sources, "the output has a figure"
        assert {src[:40]: image_problem(src) for src in sources if image_problem(src)} == {}
        body = page.inner_text("body")
        assert "Traceback" not in body and "Error displaying widget" not in body
    finally:
        page.close()
        demos.stop(process)
    assert process.poll() is not None, "the Voila server is stopped"


# --- RISE in JupyterLab -------------------------------------------------------------------------

def _present_heading(page) -> str:
    return page.evaluate("""() => {
        const slide = document.querySelector('.reveal .slides section.present section.present')
                   || document.querySelector('.reveal .slides section.present');
        const h = slide && slide.querySelector('h1, h2');
        return h ? h.innerText : '';
    }""")


def test_a_chapter_talk_opens_in_rise_and_advances_to_the_next_section(browser, tmp_path):
    folder, home = tmp_path / "course", tmp_path / "home"
    home.mkdir()
    shutil.copytree(notebooks_dir(), folder / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    talk = slides.TALKS[TALK]
    server = lab_browser.LabServer(folder, home).start()
    page = browser.new_page()
    try:
        page.goto(slides.rise_url(server.url, f"notebooks/{TALK}.ipynb", server.token),
                  timeout=OPEN_TIMEOUT_S * 1000)
        page.wait_for_selector(".reveal .slides section.present", timeout=OPEN_TIMEOUT_S * 1000)
        page.wait_for_function("() => document.querySelector('.reveal .slides section.present h1')",
                               timeout=OPEN_TIMEOUT_S * 1000)
        first = _present_heading(page)
        time.sleep(1.5)
        assert first.startswith("05. Stampede protection"), first
        page.screenshot(path=str(REPORT_DIR / "rise-1.png"))
        page.locator(".reveal").click()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(first) => { const s = document.querySelector('.reveal .slides section.present"
                               " section.present') || document.querySelector('.reveal .slides section.present');"
                               " const h = s && s.querySelector('h1, h2'); return h && h.innerText !== first; }",
                               arg=first, timeout=60_000)
        second = _present_heading(page)
        time.sleep(1.5)  # reveal.js' slide transition, so the screenshot shows the whole slide
        page.screenshot(path=str(REPORT_DIR / "rise-2.png"))
        assert second.startswith("1. The herd"), second
        shown_kinds = [kind for _, kind in talk.cells]
        assert shown_kinds[:2] == ["slide", "slide"], "the registry puts the title and section 1 on two slides"
        assert "04. Eviction" not in page.inner_text(".reveal"), "the skipped navigation bar is not shown"
    finally:
        page.close()
        server.stop()
    assert server.process.poll() is not None


def test_offline_html_slides_advance_with_the_network_cut(browser, tmp_path):
    """`course slides --html DIR --reveal FOLDER` pages work from file:// with every http(s) request refused.

    Needs a reveal.js 4 folder (e.g. the npm package: `npm pack reveal.js@4.0.2`) named by
    $WHATSAPP_CACHE_REVEAL_DIR (.ci/run fetches one); skipped without one outside CI (the test fetches nothing)."""
    reveal = os.environ.get("WHATSAPP_CACHE_REVEAL_DIR")
    if not reveal or not (Path(reveal) / "dist" / "reveal.js").exists():
        message = "set WHATSAPP_CACHE_REVEAL_DIR to a reveal.js 4 folder to run this check"
        if os.environ.get("WHATSAPP_CACHE_REQUIRE_LIVE") == "1":
            pytest.fail(message + " (CI: .ci/run fetches one)")
        pytest.skip(message)
    [page_path] = slides.build_html([TALK], tmp_path, reveal=reveal)
    page = browser.new_page()
    refused = []
    page.route(lambda url: url.startswith("http"), lambda route: (refused.append(route.request.url), route.abort()))
    try:
        page.goto(page_path.as_uri())
        page.wait_for_function("() => document.querySelector('.reveal .slides section.present h1')", timeout=60_000)
        assert _present_heading(page).startswith("05. Stampede protection")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => { const h = document.querySelector('.reveal .slides section.present h2');"
                               " return h && h.innerText.startsWith('1. The herd'); }", timeout=30_000)
        time.sleep(1.5)
        page.screenshot(path=str(REPORT_DIR / "offline-html-2.png"))
    finally:
        page.close()
    assert not any("reveal.js" in url or "require" in url for url in refused), refused
