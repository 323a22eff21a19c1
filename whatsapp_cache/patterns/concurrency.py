"""Deterministic concurrency: many clients' operations interleaved on one simulated clock.

An operation is written as a generator of steps: it does one real call (Redis or the
database), then yields how many milliseconds that call took. The Simulation resumes each
operation when its time comes, so a reader's database query can overlap a writer's
update exactly as on a busy server, and the same seed gives the same interleaving.

    def read(key):                       sim = Simulation(clock)
        value = cache.get(key)           sim.spawn(read("k"), at_ms=0)
        yield 3.0                        sim.spawn(write("k", 1), at_ms=1)
        ...                              sim.run()
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

from ..clock import SimulatedClock

Steps = Generator[float, None, Any]


@dataclass
class Task:
    """One running operation; `result` or `error` once it has finished."""

    name: str
    steps: Steps
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    on_done: Callable[["Task"], None] | None = field(default=None, repr=False)


class Simulation:
    """A discrete-event loop: always resume the operation whose next step is due first."""

    def __init__(self, clock: SimulatedClock):
        self.clock = clock
        self._queue: list[tuple[float, int, Task]] = []
        self._sequence = 0
        self.finished: list[Task] = []

    def spawn(self, steps: Steps, at_ms: float | None = None, name: str = "",
              on_done: Callable[[Task], None] | None = None) -> Task:
        task = Task(name, steps, on_done=on_done)
        self._push(self.clock.now_ms() if at_ms is None else at_ms, task)
        return task

    def _push(self, at_ms: float, task: Task) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (at_ms, self._sequence, task))

    def run(self, until_ms: float | None = None) -> list[Task]:
        """Run until no operation is left (or the next one is due after `until_ms`)."""
        while self._queue and (until_ms is None or self._queue[0][0] <= until_ms):
            at_ms, _, task = heapq.heappop(self._queue)
            self.clock.advance_to(at_ms)
            self._step(task, at_ms)
        if until_ms is not None:
            self.clock.advance_to(until_ms)
        return self.finished

    def _step(self, task: Task, at_ms: float) -> None:
        try:
            delay = next(task.steps)
        except StopIteration as stop:
            self._finish(task, stop.value, None)
        except Exception as exc:  # an operation that failed is a result to report, not a crash of the loop
            self._finish(task, None, exc)
        else:
            self._push(at_ms + max(0.0, float(delay)), task)

    def _finish(self, task: Task, result: Any, error: BaseException | None) -> None:
        task.done, task.result, task.error = True, result, error
        self.finished.append(task)
        if task.on_done is not None:
            task.on_done(task)

    @property
    def pending(self) -> int:
        return len(self._queue)


def run_steps(steps: Steps, clock: SimulatedClock | None = None) -> Any:
    """Run one operation to its end; with a simulated clock, time passes as its steps say."""
    try:
        while True:
            delay = next(steps)
            if clock is not None:
                clock.advance(max(0.0, float(delay)))
    except StopIteration as stop:
        return stop.value
