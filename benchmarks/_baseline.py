"""What the benchmark scripts that compare commits share: a detached worktree per baseline commit,
and one measurement run in a subprocess whose `whatsapp_cache` comes from a given code root."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIVE_ENV = ("WHATSAPP_CACHE_REDIS_URL", "WHATSAPP_CACHE_DATABASE_URL")


@contextlib.contextmanager
def code_roots(commits, prefix: str):
    """{"HEAD": this checkout, commit: a temporary detached worktree of it, ...}; worktrees removed after."""
    roots = {"HEAD": ROOT}
    with tempfile.TemporaryDirectory(prefix=prefix) as where:
        try:
            for commit in commits:
                roots[commit] = Path(where) / commit
                subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(roots[commit]), commit],
                               check=True, capture_output=True)
            yield roots
        finally:
            for root in list(roots.values())[1:]:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(root)],
                               check=False, capture_output=True)


def run_child(script: str, code_root: Path, args: list[str]) -> dict:
    """Run `script --child *args` with `code_root`'s whatsapp_cache (embedded unless told); its last line is JSON."""
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    for name in LIVE_ENV:
        env.pop(name, None)
    out = subprocess.run([sys.executable, script, "--child", *args], env=env, cwd=code_root, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])
