"""``pike.lowlevel.current_statistics()``: a snapshot of the run loop's load.

Computed on demand from the run's own structures (the task tree, the ready
queue, the deadline heap, the notifier's handles) so the kernel keeps no
counters on its hot paths just in case someone asks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ._kernel import _state
from ._kernel._runner import Runner
from ._kernel._task import Task


@dataclass(frozen=True)
class IOStatistics:
    """How many tasks wait for fd readiness, per direction, and on which notifier."""

    tasks_waiting_read: int
    tasks_waiting_write: int
    backend: str


@dataclass(frozen=True)
class RunStatistics:
    """trio's field names, so code that reads trio's statistics reads these too."""

    tasks_living: int
    tasks_runnable: int
    seconds_to_next_deadline: float
    run_sync_soon_queue_size: int
    io_statistics: IOStatistics


def iter_tasks(runner: Runner) -> Iterator[Task]:
    """Every living task of the run, parents before their children."""
    root = runner.init_task
    if root is None:
        return
    stack = [root]
    while stack:
        task = stack.pop()
        yield task
        for nursery in reversed(task._child_nurseries):
            stack.extend(nursery._children)


def io_statistics(runner: Runner) -> IOStatistics:
    notifier = runner.notifier
    reading = writing = 0
    # Both reactor notifiers keep one Handle per fd with a reader and a writer
    # slot; a notifier without handles simply reports no waiters.
    handles = getattr(notifier, "_handles", {})
    for handle in list(handles.values()):
        if getattr(handle, "reader", None) is not None:
            reading += 1
        if getattr(handle, "writer", None) is not None:
            writing += 1
    return IOStatistics(reading, writing, notifier.name)


def current_statistics() -> RunStatistics:
    """Return a snapshot of the current run's load (call it from inside ``pike.run``)."""
    runner = _state.runner()
    deadline = runner.timers.next_deadline()
    to_deadline = math.inf if deadline == math.inf else deadline - runner.clock.current_time()
    return RunStatistics(
        tasks_living=sum(1 for _ in iter_tasks(runner)),
        tasks_runnable=len(runner.runq),
        seconds_to_next_deadline=to_deadline,
        run_sync_soon_queue_size=len(runner.entries) + len(runner.idempotent_entries),
        io_statistics=io_statistics(runner),
    )
