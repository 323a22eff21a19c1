"""Drive the course as a learner would: JupyterLab in Debian's headless Chromium, through Playwright.

    LabServer(folder)           JupyterLab on a free loopback port with a token, in a throw-away HOME
    check_notebook(page, ...)   open one notebook, look at it before running, Run All, move every
                                widget panel's controls, and return what it saw (a NotebookReport)

The notebooks are copies in a temporary folder, so JupyterLab's autosave never touches the tracked
files. Every kernel runs on the embedded default: the live backends' variables are removed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from whatsapp_cache.lab.process import free_port
from whatsapp_cache.tables import Column, table_lines

CHROMIUM = "/usr/bin/chromium"
# Flags for Debian's Chromium headless in a container
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# What a learner must never see in a notebook: a widget that failed to render, or its raw repr
BROKEN_WIDGET_TEXTS = ("Error displaying widget", "model not found", "VBox(children=")
RUN_ALL_TIMEOUT_S = 240
REDRAW_TIMEOUT_S = 30
SETTLE_S = 0.6  # an output that stays the same this long (with no busy panel) has finished redrawing
LIVE_ENV = ("WHATSAPP_CACHE_REDIS_URL", "WHATSAPP_CACHE_DATABASE_URL")


class LabServer:
    """JupyterLab serving `folder` on 127.0.0.1 with a random token; stopped by its pid."""

    def __init__(self, folder: Path, home: Path):
        self.folder, self.home = folder, home
        self.port, self.token = free_port(), base64.b32encode(os.urandom(15)).decode().lower()
        self.process: subprocess.Popen | None = None
        self.log = home / "jupyter.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in LIVE_ENV and not k.startswith("JUPYTER")}
        settings = self.home / "lab-settings"
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True, exist_ok=True)
        # every cell in the page (no virtual scrolling), so the test sees all outputs
        tracker.write_text(json.dumps({"windowingMode": "none"}))
        news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text(json.dumps({"fetchNews": "false"}))  # no "official Jupyter news?" toast over the page
        env.update(HOME=str(self.home), JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"))
        return env

    def start(self) -> "LabServer":
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.folder}",
                   "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # JupyterLab refuses root otherwise
        self.process = subprocess.Popen(command, env=self._environment(), stdout=self.log.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("jupyter lab did not answer within %d s" % timeout_s)

    def stop(self) -> None:
        """Stop the server (and the kernels it started, in its process group) by its pid."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def copy_notebooks(source: Path, target: Path) -> list[str]:
    """Copy the notebooks (chapters and solutions) into `target`; return their paths relative to it."""
    shutil.copytree(source, target / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    readme = source.parent / "README.md"
    if readme.exists():
        shutil.copy(readme, target / "README.md")  # the navigation bars link to it
    return sorted(str(p.relative_to(target)) for p in (target / "notebooks").rglob("*.ipynb"))


# --- images -------------------------------------------------------------------------------------

def image_problem(src: str) -> str | None:
    """Why an <img> src (a data: URL) is not a complete, non-blank picture; None if it is fine."""
    import numpy as np
    from PIL import Image

    if not src.startswith("data:image/"):
        return f"not an inline image: {src[:60]}"
    try:
        raw = base64.b64decode(src.split(",", 1)[1])
        image = Image.open(io.BytesIO(raw))
        image.load()  # raises on a truncated file
    except Exception as error:  # noqa: BLE001 -- any decoder complaint is the finding
        return f"does not decode: {type(error).__name__}: {error}"
    pixels = np.asarray(image.convert("L"), dtype=float)
    if pixels.size == 0 or pixels.std() < 2.0:
        return f"blank ({image.size[0]}x{image.size[1]}, pixel std {pixels.std():.2f})"
    rows_with_ink = (pixels < 200).any(axis=1)
    if rows_with_ink.mean() < 0.05:
        return "almost empty: ink in under 5% of the rows"
    return None


# --- the page -----------------------------------------------------------------------------------

# JavaScript run in the page. `window.jupyterapp` is there because of expose_app_in_browser.
JS_NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    cells.push({outputs: cell.model.outputs.toJSON(), count: cell.model.executionCount});
  }
  return {status: panel.sessionContext.kernelDisplayStatus, cells};
}"""

JS_MARK_PANELS = """() => {
  // a widget panel: the outermost box of one output that holds an Output widget
  const boxes = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-vbox')]
    .filter(b => b.querySelector('.widget-output') && !b.parentElement.closest('.widget-vbox'));
  boxes.forEach((b, i) => b.setAttribute('data-wc-panel', String(i)));
  return boxes.length;
}"""

JS_PANEL_SIGNATURE = """(i) => {
  const box = document.querySelector(`[data-wc-panel="${i}"]`);
  const out = box.querySelector('.widget-output');
  const imgs = [...out.querySelectorAll('img')].map(im => ({src: im.src, ok: im.complete && im.naturalWidth > 0}));
  const busy = !!box.querySelector('.wc-busy') || box.classList.contains('wc-busy');
  const status = box.querySelector('.wc-status');
  return {text: out.innerText, imgs, busy, status: status ? status.innerText : ''};
}"""


# markdown cells that mention money
DOLLAR_CELLS = '.jp-NotebookPanel:visible .jp-MarkdownCell:has-text("$")'
# the code cells that build a widget panel (their source calls one of the course's explorers)
WIDGET_CELLS = '.jp-NotebookPanel:visible .jp-CodeCell:has-text("_explorer(")'


@dataclass
class Redraw:
    control: str
    seconds: float
    changed: bool
    problems: list = field(default_factory=list)


@dataclass
class NotebookReport:
    notebook: str
    before_run: list = field(default_factory=list)    # broken-widget texts seen on open
    run_all_s: float = 0.0
    errors: list = field(default_factory=list)        # error outputs and stderr tracebacks
    panels: int = 0
    redraws: list = field(default_factory=list)       # one Redraw per control changed
    screenshots: list = field(default_factory=list)

    @property
    def worst_redraw_s(self) -> float:
        return max((r.seconds for r in self.redraws), default=0.0)

    def problems(self) -> list[str]:
        found = [f"before Run All: {text!r}" for text in self.before_run] + self.errors
        for r in self.redraws:
            if not r.changed:
                found.append(f"{r.control}: the output did not change")
            found += [f"{r.control}: {p}" for p in r.problems]
        return found

    def as_json(self) -> dict:
        return {"notebook": self.notebook, "run_all_s": round(self.run_all_s, 2), "panels": self.panels,
                "worst_redraw_s": round(self.worst_redraw_s, 2), "before_run": self.before_run,
                "errors": self.errors, "screenshots": self.screenshots,
                "redraws": [vars(r) | {"seconds": round(r.seconds, 2)} for r in self.redraws]}


def open_notebook(page, lab: LabServer, path: str) -> None:
    """Open `path` alone in a fresh JupyterLab page and wait until its kernel is idle."""
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel:visible", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'",
                           timeout=90_000)
    page.wait_for_timeout(1500)  # let the stored outputs (and any widget restore) settle


def broken_widget_texts(page) -> list[str]:
    text = page.locator(".jp-NotebookPanel:visible").inner_text()
    return [t for t in BROKEN_WIDGET_TEXTS if t in text]


def typeset_math(page) -> list[str]:
    """LaTeX that MathJax typeset in the page: the course writes none, so each one is a `$` left unescaped."""
    formulas = page.locator(".jp-NotebookPanel:visible mjx-container")
    count = formulas.count()
    return [f"{count} LaTeX formula(s) typeset, e.g. {formulas.first.inner_text()[:40]!r}: an unescaped $?"] if count else []


def run_all(page) -> float:
    """Run every cell; the seconds until the last finished and the kernel is idle again."""
    start = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("""() => {
        const panel = window.jupyterapp.shell.currentWidget;
        const prompts = [...panel.node.querySelectorAll('.jp-InputArea-prompt')].map(p => p.innerText);
        return panel.sessionContext.kernelDisplayStatus === 'idle' && !prompts.some(p => p.includes('*'));
    }""", timeout=RUN_ALL_TIMEOUT_S * 1000, polling=250)
    return time.monotonic() - start


def output_errors(state: dict) -> list[str]:
    """Error outputs and stderr streams holding a traceback, from the notebook model."""
    found = []
    for index, cell in enumerate(state["cells"]):
        for output in cell["outputs"]:
            if output["output_type"] == "error":
                found.append(f"code cell {index}: {output['ename']}: {output['evalue'][:200]}")
            elif output["output_type"] == "stream" and output.get("name") == "stderr":
                text = "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
                if "Traceback" in text:
                    found.append(f"code cell {index}: traceback on stderr: {text[-200:]}")
    return found


def _shown(signature: dict) -> tuple:
    return signature["text"], [image["src"] for image in signature["imgs"]]


def _answered(before: dict, now: dict) -> bool:
    """The panel answered a change: a new output, or its status line says the change changed nothing."""
    return _shown(now) != _shown(before) or "no change" in now.get("status", "")


def _wait_for_redraw(page, index: int, before: dict) -> tuple[float, dict]:
    """Poll the panel until it answered, nothing is busy, and it stays still; seconds to its last change."""
    start = time.monotonic()
    last, last_change = before, start
    while time.monotonic() - start < REDRAW_TIMEOUT_S:
        page.wait_for_timeout(50)
        now = page.evaluate(JS_PANEL_SIGNATURE, index)
        if (*_shown(now), now["busy"], now["status"]) != (*_shown(last), last["busy"], last["status"]):
            last, last_change = now, time.monotonic()
        if _answered(before, now) and not now["busy"] and time.monotonic() - last_change >= SETTLE_S:
            return last_change - start, now
    return time.monotonic() - start, last


def _controls(page, index: int) -> list[tuple[str, object]]:
    """One control of each kind in the panel: (label, locator)."""
    box = page.locator(f'[data-wc-panel="{index}"]')
    found = []
    for kind, selector in (("slider", ".widget-slider .noUi-handle"), ("dropdown", ".widget-dropdown select"),
                           ("checkbox", ".widget-checkbox input[type=checkbox]")):
        controls = box.locator(selector)
        if controls.count():
            found.append((kind, controls.first))
    return found


def _change(page, kind: str, control) -> str:
    """Change one control the way a learner does (keyboard on a slider); return what was changed."""
    holder = "widget-checkbox" if kind == "checkbox" else "widget-inline-hbox"
    widget = control.locator(f"xpath=ancestor::*[contains(@class,'{holder}')][1]")
    label = widget.first.inner_text().strip() if widget.count() else ""
    lines = [line.strip("\u200b ") for line in label.splitlines() if line.strip("\u200b ")]
    label = lines[0] if lines else kind
    if kind == "slider":
        control.focus()
        control.press("ArrowRight")
    elif kind == "dropdown":
        current = control.input_value()
        values = control.evaluate("s => [...s.options].map(o => o.value)")
        control.select_option(next(v for v in values if v != current))
    else:
        control.click()
    return f"{kind} '{label}'"


def exercise_panels(page, report: NotebookReport, shots: Path, stem: str) -> None:
    """Change each kind of control of every panel; record redraw time and check the new output."""
    report.panels = page.evaluate(JS_MARK_PANELS)
    for index in range(report.panels):
        box = page.locator(f'[data-wc-panel="{index}"]')
        box.scroll_into_view_if_needed()
        report.screenshots.append(_shot(box, shots / f"{stem}-panel{index}-0-after-run.png"))
        for step, (kind, control) in enumerate(_controls(page, index), start=1):
            before = page.evaluate(JS_PANEL_SIGNATURE, index)
            described = _change(page, kind, control)
            seconds, after = _wait_for_redraw(page, index, before)
            changed = _answered(before, after)
            problems = [f"image {n}: {p}" for n, im in enumerate(after["imgs"])
                        for p in [image_problem(im["src"]) or (None if im["ok"] else "not loaded")] if p]
            report.redraws.append(Redraw(f"panel {index} {described}", seconds, changed, problems))
            report.screenshots.append(_shot(box, shots / f"{stem}-panel{index}-{step}-{kind}.png"))


def _shot(locator, path: Path) -> str:
    locator.screenshot(path=str(path))
    return path.name


def check_notebook(page, lab: LabServer, path: str, shots: Path) -> NotebookReport:
    """Everything the browser test looks at in one notebook, as a report (assertions are the caller's)."""
    stem = Path(path).stem
    report = NotebookReport(notebook=path)
    open_notebook(page, lab, path)
    report.before_run = broken_widget_texts(page) + typeset_math(page)
    for index, cell in enumerate(page.locator(DOLLAR_CELLS).all()):  # money reads as text, not italic LaTeX
        cell.scroll_into_view_if_needed()
        report.screenshots.append(_shot(cell, shots / f"{stem}-dollars{index}.png"))
    page.screenshot(path=str(shots / f"{stem}-0-opened.png"), full_page=False)
    report.screenshots.append(f"{stem}-0-opened.png")
    for index, cell in enumerate(page.locator(WIDGET_CELLS).all()):  # how each panel looks before running
        cell.scroll_into_view_if_needed()
        report.screenshots.append(_shot(cell, shots / f"{stem}-widget{index}-before-run.png"))
    report.run_all_s = run_all(page)
    report.errors = output_errors(page.evaluate(JS_NOTEBOOK_STATE))
    exercise_panels(page, report, shots, stem)
    return report


def format_table(reports: list[NotebookReport]) -> str:
    columns = (Column("notebook", "<", width=52), Column("run-all s", format=".1f"), Column("panels"),
               Column("worst redraw s", format=".2f"), Column("problems", "<", gap="  "))
    return "\n".join(table_lines(columns, [(r.notebook, r.run_all_s, r.panels, r.worst_redraw_s, len(r.problems()))
                                          for r in reports]))
