"""Dashboards for projection: one explorer per page, served by Voila (no code on screen).

    whatsapp-cache course demo capacity     # serve notebooks/demos/capacity.ipynb and print its URL

Each demo is a notebook generated from DEMOS (`write_notebooks`), holding a heading, a
sentence on what the room should watch, and the chapter's explorer. Voila runs it on open
and shows only the outputs, so a class sees the controls and the plot, large.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..clock import wait_until
from ..errors import InvalidInput
from ..lab.process import free_port  # the course's one port finder; `course demo` and the browser tests use it here
from .chapters import notebooks_dir


@dataclass(frozen=True)
class Demo:
    name: str
    title: str
    chapter: str
    explorer: str  # a function of course.widgets
    watch: str  # what the room should see when a control moves


DEMOS = {demo.name: demo for demo in (
    Demo("capacity", "Capacity and cost: the fleet behind 1.5 M requests a second", "07_performance_and_capacity",
         "capacity_explorer", "Move the buffer and the replicas: servers and the monthly bill follow; the seed's "
                              "plan is the row to compare with."),
    Demo("eviction", "Eviction: LRU, LFU and FIFO on one trace", "04_eviction", "eviction_explorer",
         "Shrink the cache or flatten the skew: every policy loses hits, and LFU's lead over LRU grows or shrinks."),
    Demo("herd", "A stampede: one expiry, many readers", "05_stampede", "herd_explorer",
         "Raise the readers: with no protection the loads per expiry grow with them; the lock and XFetch stay "
         "near one."),
    Demo("outage", "Redis goes away: what users see", "06_failure_and_recovery", "chaos_explorer",
         "Lengthen the outage or turn the breaker off: failed requests and latency during the outage change, "
         "and the hit ratio's recovery after it."),
)}


def demos_dir() -> Path:
    return notebooks_dir() / "demos"


def demo_notebook(demo: Demo) -> nbformat.NotebookNode:
    """The dashboard's notebook: a heading, what to watch, the explorer."""
    intro = (f"# {demo.title}\n\n{demo.watch}\n\n"
             f"From chapter [{demo.chapter}](../{demo.chapter}.ipynb), where each number is explained.")
    code = f"from whatsapp_cache.course.widgets import {demo.explorer}\n\n{demo.explorer}()"
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata["tags"] = ["nbval-ignore-output"]  # a live widget: its output is the widget state
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(intro), cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def write_notebooks(folder: Path | None = None) -> list[Path]:
    """Write every demo's notebook (unexecuted: Voila runs it when the page opens); return the paths."""
    folder = folder or demos_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for demo in DEMOS.values():
        path = folder / f"{demo.name}.ipynb"
        notebook = demo_notebook(demo)
        for index, cell in enumerate(notebook.cells):
            cell.id = f"{demo.name}-{index}"  # stable ids: rewriting an unchanged demo changes nothing
        nbformat.write(notebook, path)
        paths.append(path)
    return paths


def find(name: str) -> Demo:
    if name not in DEMOS:
        raise InvalidInput(f"no demo {name!r}; the demos are: {', '.join(DEMOS)}")
    return DEMOS[name]


def voila_command(demo: Demo, port: int, browser: bool = False) -> list[str]:
    """Voila serving one dashboard on loopback (no code shown, widgets live)."""
    path = demos_dir() / f"{demo.name}.ipynb"
    command = [sys.executable, "-m", "voila", str(path), f"--port={port}", "--Voila.ip=127.0.0.1",
               "--theme=light", "--show_tracebacks=False"]
    return command if browser else [*command, "--no-browser"]


def start(name: str, port: int | None = None, timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Start Voila on a demo in the background; return the process and the page's URL once it answers."""
    demo = find(name)
    port = port or free_port()
    process = subprocess.Popen(voila_command(demo, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/"
    if wait_until(lambda: _answering(process, port), timeout_s, poll_s=0.2):
        return process, url  # the server is up; the page runs the notebook when it is opened
    stop(process)
    raise TimeoutError(f"voila did not answer on {url} within {timeout_s} s")


def _answering(process: subprocess.Popen, port: int) -> bool:
    """Whether Voila listens on `port`; an error if it has exited instead."""
    if process.poll() is not None:
        raise RuntimeError(f"voila exited with {process.returncode}: {process.stderr.read().decode()[-400:]}")
    return _listening(port)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop(process: subprocess.Popen) -> None:
    """Stop a demo server by its pid."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
