"""Exercises: a learner's function, checked against the contract the library's own version passes.

    exercise cell (tag "exercise"):  def chat_key(user_a, user_b):
                                         raise NotImplementedError("...")
    check cell (tag "check"):        check(chat_key)

`check` finds the exercise by the function's name, runs its cases in order and stops at the
first that fails: one screen with what was called, what came back, what was expected, and a
hint. A function that still raises NotImplementedError gets the "not done yet" screen. Cases
that need Redis and a database get a fresh World on the course's backends (fakeredis and
SQLite, or the live URLs when they are set), in a namespace of their own that is emptied after.

Each chapter's exercises live in a module of this package (ch01 ... ch08), registered with
`exercise(...)`; reference solutions are in notebooks/solutions/.
"""

from __future__ import annotations

import html
import importlib
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from ...errors import InvalidInput

MODULES = ("ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08")
RESULT_KEY = "whatsapp_cache_check"  # display metadata that `course progress` reads from a notebook
_REGISTRY: dict[str, "Exercise"] = {}
_SESSION: dict[str, bool] = {}  # exercise -> passed, for checks run in this kernel


class AfterFirstGet:
    """A Redis client whose first GET of `key` lets `other` run right after it: another writer or lock
    holder stepping in between a read and the write that depends on it. `finish()` runs `other` once the
    call is over instead, for code that never GETs (a DEL, one SET NX, one script)."""

    def __init__(self, client, key: str, other: Callable[[], None]):
        self._client, self._key, self._other = client, key, other

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get(self, key, *args, **kwargs):
        value = self._client.get(key, *args, **kwargs)
        if key == self._key:
            self.finish()
        return value

    def finish(self) -> None:
        other, self._other = self._other, None
        if other is not None:
            other()


class Mismatch(AssertionError):
    """A case's verdict in plain words: what was called, what came back, what was expected."""

    def __init__(self, called: str, got: Any, expected: str):
        super().__init__(f"{called} returned {got!r}; expected {expected}")
        self.called, self.got, self.expected = called, got, expected


def expect(condition: bool, called: str, got: Any, expected: str) -> None:
    """Raise a Mismatch unless `condition` holds (the one-line form cases use)."""
    if not condition:
        raise Mismatch(called, got, expected)


@dataclass(frozen=True)
class Case:
    """One check of an exercise: `run(candidate, bench)` raises Mismatch (or any error) on failure."""

    describe: str
    run: Callable[[Any, "Bench"], None]
    hint: str = ""


@dataclass(frozen=True)
class Exercise:
    key: str
    chapter: str
    title: str
    cases: tuple[Case, ...]
    hint: str = ""


def exercise(key: str, chapter: str, title: str, hint: str = "") -> Callable:
    """Register the cases returned by the decorated function as exercise `key` (the learner's function name)."""
    def register(build_cases: Callable[[], list[Case]]) -> Callable[[], list[Case]]:
        _REGISTRY[key] = Exercise(key, chapter, title, tuple(build_cases()), hint)
        return build_cases
    return register


def exercises(chapter: str | None = None) -> list[Exercise]:
    """Every registered exercise (of one chapter, e.g. "04"), in chapter order."""
    _load()
    return [e for e in _REGISTRY.values() if chapter is None or e.chapter == chapter]


def _load() -> None:
    for name in MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


@dataclass
class Bench:
    """What cases run against: a World built on first use (the course's backends), closed after the check."""

    seed: int = 0
    _world: Any = field(default=None, repr=False)

    @property
    def world(self):
        if self._world is None:
            import secrets

            from ...world import World

            self._world = World(dataset="tiny", seed=self.seed, namespace=f"ex-{secrets.token_hex(4)}")
        return self._world

    def close(self) -> None:
        if self._world is not None:
            self._world.flush_cache(keep_queue=False)
            self._world.close()
            self._world = None


@dataclass(frozen=True)
class Verdict:
    """The screen a check cell shows; `passed` says whether every case held."""

    exercise: Exercise
    passed: bool
    checked: int
    failed_case: Case | None = None
    problem: str = ""
    called: str = ""
    got: str = ""
    expected: str = ""
    not_done: bool = False

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _lines(self) -> list[str]:
        e, total = self.exercise, len(self.exercise.cases)
        head = f"Exercise {e.chapter}.{e.key}: {e.title}"
        if self.not_done:
            return [head, "Not done yet: the function above still raises NotImplementedError.",
                    "Complete it, run its cell, then run this check again.", *self._hint(e.hint)]
        if self.passed:
            return [head, f"Passed: all {total} checks hold."]
        lines = [head, f"Check {self.checked} of {total} failed: {self.failed_case.describe}"]
        if self.called:
            lines += [f"  called:   {self.called}", f"  got:      {self.got}", f"  expected: {self.expected}"]
        else:
            lines.append(f"  {self.problem}")
        return lines + self._hint(self.failed_case.hint or e.hint)

    @staticmethod
    def _hint(text: str) -> list[str]:
        return [f"Hint: {text}"] if text else []

    def _repr_mimebundle_(self, include=None, exclude=None):
        lines = self._lines()
        colour = "#1b5e20" if self.passed else ("#555" if self.not_done else "#b71c1c")
        body = "<br>".join(html.escape(line).replace("  ", "&nbsp;&nbsp;") for line in lines[1:])
        markup = (f'<div class="wc-check" style="border-left:4px solid {colour};padding:4px 10px">'
                  f"<b>{html.escape(lines[0])}</b><br>{body}</div>")
        metadata = {RESULT_KEY: {"exercise": self.exercise.key, "passed": self.passed}}
        return {"text/plain": repr(self), "text/html": markup}, {"text/html": metadata, "text/plain": metadata}


def check(candidate: Any, key: str | None = None, seed: int = 0) -> Verdict:
    """Run exercise `key` (default: the candidate's name) against `candidate`; the first failing case wins."""
    _load()
    key = key or getattr(candidate, "__name__", None)
    if key not in _REGISTRY:
        raise InvalidInput(f"no exercise named {key!r}; known: {sorted(_REGISTRY)}")
    verdict = _run(_REGISTRY[key], candidate, seed)
    _SESSION[key] = verdict.passed
    return verdict


def _run(ex: Exercise, candidate: Any, seed: int) -> Verdict:
    bench = Bench(seed)
    try:
        for number, case in enumerate(ex.cases, 1):
            try:
                case.run(candidate, bench)
            except NotImplementedError:
                return Verdict(ex, False, number, case, not_done=True)
            except Mismatch as failure:
                return Verdict(ex, False, number, case, called=failure.called, got=_short(failure.got),
                               expected=failure.expected)
            except Exception as exc:  # the learner's code raised: say where, briefly
                return Verdict(ex, False, number, case, problem=_raised(exc))
        return Verdict(ex, True, len(ex.cases))
    finally:
        bench.close()


def _short(value: Any, width: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _raised(exc: Exception) -> str:
    """The exception and the learner's own line that raised it (frames from notebook cells)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<ipython-input")
              or "/ipykernel_" in f.filename]
    where = f" (in your code: {frames[-1].line})" if frames and frames[-1].line else ""
    return f"your function raised {type(exc).__name__}: {exc}{where}"


def progress_line(chapter: str) -> str:
    """One line for a chapter's end: how many of its exercises this session's checks passed."""
    mine = exercises(chapter)
    passed = sum(_SESSION.get(e.key, False) for e in mine)
    names = ", ".join(e.key for e in mine)
    return (f"Exercises of chapter {chapter} passed in this session: {passed} of {len(mine)} ({names}). "
            "`whatsapp-cache course progress` shows every chapter.")


def notebook_results(path) -> dict[str, bool]:
    """Exercise -> passed, from the check outputs stored in one notebook (a learner's copy)."""
    import nbformat

    results = {}
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            for metadata in output.get("metadata", {}).values():
                found = metadata.get(RESULT_KEY) if isinstance(metadata, dict) else None
                if found:
                    results[found["exercise"]] = bool(found["passed"])
    return results


def progress(folder) -> list[tuple[str, str, bool]]:
    """(chapter, exercise, passed) for every exercise, read from the notebooks in `folder`."""
    from pathlib import Path

    from ..chapters import CHAPTERS

    passed: dict[str, bool] = {}
    for chapter in CHAPTERS:
        path = Path(folder) / chapter.filename
        if path.exists():
            passed.update(notebook_results(path))
    return [(e.chapter, e.key, passed.get(e.key, False)) for e in exercises()]


def format_progress(rows: list[tuple[str, str, bool]]) -> str:
    """Per chapter: the exercises passed (x) and not yet ( ), and the total."""
    lines, done = [], sum(passed for *_, passed in rows)
    for chapter in dict.fromkeys(chapter for chapter, *_ in rows):
        marks = "  ".join(f"[{'x' if passed else ' '}] {key}" for c, key, passed in rows if c == chapter)
        lines.append(f"chapter {chapter}: {marks}")
    return "\n".join([*lines, f"{done} of {len(rows)} exercises passed"])
