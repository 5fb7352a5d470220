"""ParkingLot: a fair FIFO queue of parked tasks; every lock is built on it."""

from __future__ import annotations

import math
import types
from collections import OrderedDict
from collections.abc import Callable, Generator, MutableMapping
from functools import partial
from typing import Any

from . import _state
from ._exceptions import BrokenResourceError
from ._task import Task
from ._traps import Abort, RaiseCancelT


def leave_queue(
    queue: MutableMapping[Task, Any], task: Task, raise_cancel: RaiseCancelT
) -> Abort:
    """The abort function of a task parked in ``queue``: cancelled, it leaves the queue.

    Bound with ``functools.partial`` by whoever parks the task: unlike a
    closure, that allocates no cells for the queue and the task.
    """
    del queue[task]
    return Abort.SUCCEEDED


class ParkingLotStatistics:
    __slots__ = ("tasks_waiting",)

    def __init__(self, tasks_waiting: int) -> None:
        self.tasks_waiting = tasks_waiting

    def __repr__(self) -> str:
        return f"ParkingLotStatistics(tasks_waiting={self.tasks_waiting})"


class ParkingLot:
    """Tasks park here and are woken oldest first.

    The queue is an OrderedDict from task to nothing: O(1) to join at the back,
    to leave from the front, and to withdraw from the middle (a parked task that
    is cancelled). Every way out but the Lock's one-task hand-off
    (``unpark_one``) goes through ``_take``; every way in goes through
    ``_admit``, which also gives the runner the hook that withdraws the task
    if it is cancelled while parked here.
    """

    __slots__ = ("_parked", "broken_by")

    def __init__(self) -> None:
        self._parked: OrderedDict[Task, None] = OrderedDict()
        # The task whose exit broke the lot (see break_lot); None while usable.
        self.broken_by: Task | None = None

    def __len__(self) -> int:
        return len(self._parked)

    def __bool__(self) -> bool:
        return bool(self._parked)

    @types.coroutine
    def park(self) -> Generator[Any, Any, Any]:
        """Park the current task until unparked (or cancelled).

        Generator-based, like the kernel's traps: a lock's waiter is one frame
        away from the kernel on every switch.
        """
        task = _state.local.task
        if task is None:
            raise RuntimeError("must be called from a pike task")
        if self.broken_by is not None:
            raise self._broken_error()
        return (yield self._admit(task))

    def _admit(self, task: Task) -> Callable[[RaiseCancelT], Abort]:
        """Queue ``task`` at the back; return its withdraw-on-cancel hook."""
        parked = self._parked
        parked[task] = None
        return partial(leave_queue, parked, task)

    def _take(self, count: float) -> list[Task]:
        """Dequeue up to ``count`` (an int or ``math.inf``) of the oldest tasks."""
        if count < 0:
            raise ValueError(f"count must be non-negative, not {count!r}")
        parked = self._parked
        size = len(parked)
        n = size if count >= size else int(count)
        return [parked.popitem(last=False)[0] for _ in range(n)]

    def _broken_error(self) -> BrokenResourceError:
        return BrokenResourceError(
            f"the lot was broken when {self.broken_by!r} exited while still owning "
            "what its tasks wait for"
        )

    def break_lot(self, task: Task) -> None:
        """Mark the lot broken by ``task``'s exit and fail every waiter.

        For resources owned by a task (a Lock): once the owner is gone nobody
        can ever hand them on, so waiters, present and future, get
        BrokenResourceError instead of waiting forever.
        """
        if self.broken_by is None:
            self.broken_by = task
            self._fail(self._take(math.inf), self)

    def _fail(self, tasks: list[Task], broken: ParkingLot) -> None:
        reschedule_error = _state.runner().reschedule_error
        for task in tasks:
            reschedule_error(task, broken._broken_error())

    def unpark_one(self, value: Any = None) -> Task | None:
        """Wake the longest-waiting task, if any; return it (the Lock hand-off path)."""
        parked = self._parked
        if not parked:
            return None
        # _state.runner() inlined (a lock's hand-over is a hot path), and read
        # before popping, so a call from outside the run leaves the waiter parked.
        runner = _state.local.runner
        if runner is None:
            raise RuntimeError("must be called from inside pike.run()")
        task = parked.popitem(last=False)[0]
        runner.reschedule(task, value)
        return task

    def unpark(self, *, count: float = 1, value: Any = None) -> list[Task]:
        """Wake up to ``count`` tasks, oldest first; return them."""
        woken = self._take(count)
        if woken:
            reschedule = _state.runner().reschedule
            for task in woken:
                reschedule(task, value)
        return woken

    def unpark_all(self, value: Any = None) -> list[Task]:
        return self.unpark(count=math.inf, value=value)

    def repark(self, new_lot: ParkingLot, *, count: float = 1) -> None:
        """Move up to ``count`` parked tasks to ``new_lot`` without waking them.

        Each moved task keeps its place in line relative to the others moved
        and joins behind ``new_lot``'s own; its cancel hook now withdraws it
        from ``new_lot``. Moving into a broken lot fails the tasks at once, as
        parking there would.
        """
        if not isinstance(new_lot, ParkingLot):
            raise TypeError(f"new_lot must be a ParkingLot, not {type(new_lot).__name__}")
        moved = self._take(count)
        if new_lot.broken_by is not None:
            self._fail(moved, new_lot)
            return
        for task in moved:
            task._abort_fn = new_lot._admit(task)

    def repark_all(self, new_lot: ParkingLot) -> None:
        self.repark(new_lot, count=math.inf)

    def statistics(self) -> ParkingLotStatistics:
        return ParkingLotStatistics(len(self._parked))
