"""What a room needs to run the course, checked on this machine: `whatsapp-cache course doctor`.

Each check says ok or what is missing, and how to get it. Required checks are what every
chapter needs on the embedded default (Python, JupyterLab, the widgets front end, a
kernel); the others serve particular lessons (a local `redis-server` for the labs in 06 and
08, `memcached` for the primer's comparison, Chromium for the browser test) or the live
backends when their URLs are set.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import DATABASE_URL_ENV, REDIS_URL_ENV, mask_url
from ..tables import Column, table_lines

MIN_PYTHON = (3, 11)
WIDGETS_EXTENSION = Path("share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager")
COURSE_PACKAGES = ("jupyterlab", "ipywidgets", "ipykernel", "nbclient", "matplotlib", "fakeredis", "lupa")
INSTALL_HINT = "pip install -e '.[course]' in the course's folder (the README's first command does it)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def mark(self) -> str:
        if self.ok:
            return "ok"
        return "MISSING" if self.required else "missing"


def python_version() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("Python", ok, found, f"install Python {'.'.join(map(str, MIN_PYTHON))} or newer")


def package(name: str) -> Check:
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return Check(f"package {name}", False, "not installed", INSTALL_HINT)
    return Check(f"package {name}", True, version)


def widgets_front_end(prefix: Path = Path(sys.prefix)) -> Check:
    """ipywidgets draws nothing in JupyterLab without its lab extension installed beside it."""
    found = (prefix / WIDGETS_EXTENSION / "package.json").exists()
    return Check("widgets front end", found, "@jupyter-widgets/jupyterlab-manager" if found else "not found",
                 "pip install jupyterlab_widgets (it comes with ipywidgets 8)")


def kernel() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return Check("Python kernel", False, "jupyter_client not installed", INSTALL_HINT)
    specs = KernelSpecManager().find_kernel_specs()
    return Check("Python kernel", "python3" in specs, ", ".join(sorted(specs)) or "none",
                 "python -m ipykernel install --user")


def program(name: str, used_for: str, fix: str, version_flag: str = "--version") -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, False, f"not on PATH (needed for {used_for})", fix, required=False)
    version = re.search(r"\d+(\.\d+)+", _first_line([path, version_flag]))
    return Check(name, True, f"{version.group() if version else 'found'}, for {used_for}", required=False)


def live_url(env: str, probe) -> Check | None:
    """A live backend the learner asked for (its URL in the environment), tried once."""
    url = os.environ.get(env)
    if not url:
        return None
    try:
        probe(url)
    except Exception as exc:  # any failure to reach it is what the doctor reports
        return Check(env, False, f"{mask_url(url)}: {type(exc).__name__}",
                     f"start the server or unset {env} to use the embedded default", required=False)
    return Check(env, True, f"{mask_url(url)} answers", required=False)


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _ping_database(url: str) -> None:
    from ..backends import make_engine
    from ..config import BackendConfig

    engine = make_engine(BackendConfig(None, url))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"did not answer {command[-1]} ({type(exc).__name__})"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"


def checks() -> list[Check]:
    """Every check, required ones first."""
    found = [python_version(), *(package(name) for name in COURSE_PACKAGES), widgets_front_end(), kernel(),
             program("redis-server", "the labs in chapters 06 and 08",
                     "apt-get install redis-server (or your system's package)"),
             program("memcached", "the primer's Redis vs Memcached comparison",
                     "apt-get install memcached", version_flag="-V"),
             program("chromium", "the browser test", "apt-get install chromium")]
    live = [live_url(REDIS_URL_ENV, _ping_redis), live_url(DATABASE_URL_ENV, _ping_database)]
    return found + [check for check in live if check is not None]


def report(found: list[Check]) -> str:
    """The checks as a table that fits a terminal, then what to do about each missing one."""
    columns = (Column("", "<"), Column("", "<", width=7), Column("", "<"))
    lines = table_lines(columns, [(check.name, check.mark, check.detail) for check in found], gap="  ", header=False)
    fixes = [f"- {check.name}: {check.fix}" for check in found if not check.ok]
    if fixes:
        lines += ["", "To fix:", *fixes]
    missing_required = sum(not check.ok and check.required for check in found)
    lines += ["", "ready for every chapter on the embedded default" if not missing_required
              else f"{missing_required} required check(s) failed: the course will not run until they pass"]
    return "\n".join(lines)


def healthy(found: list[Check]) -> bool:
    return all(check.ok for check in found if check.required)
