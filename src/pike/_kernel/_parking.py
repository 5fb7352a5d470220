"""ParkingLot: a fair FIFO queue of parked tasks; every lock is built on it."""

from __future__ import annotations

import types
from collections import OrderedDict
from collections.abc import Generator, Iterator
from typing import Any

from . import _state
from ._exceptions import BrokenResourceError
from ._task import Task
from ._traps import Abort, RaiseCancelT


class ParkingLotStatistics:
    __slots__ = ("tasks_waiting",)

    def __init__(self, tasks_waiting: int) -> None:
        self.tasks_waiting = tasks_waiting

    def __repr__(self) -> str:
        return f"ParkingLotStatistics(tasks_waiting={self.tasks_waiting})"


class ParkingLot:
    """Tasks park here and are woken oldest first.

    An OrderedDict gives O(1) append, pop-oldest and removal-by-task (needed
    when a parked task is cancelled).
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
        self._parked[task] = None
        return (yield self._abort_for(task))

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
        if self.broken_by is not None:
            return
        self.broken_by = task
        runner = _state.runner()
        for waiter in list(self._pop(len(self._parked))):
            runner.reschedule_error(waiter, self._broken_error())

    def unpark_one(self, value: Any = None) -> Task | None:
        """Wake the longest-waiting task, if any; return it."""
        parked = self._parked
        if not parked:
            return None
        # _state.runner() inlined (a lock's hand-over is a hot path), and read
        # before popping, so a call from outside the run leaves the waiter parked.
        runner = _state.local.runner
        if runner is None:
            raise RuntimeError("must be called from inside pike.run()")
        task, _ = parked.popitem(last=False)
        runner.reschedule(task, value)
        return task

    def _pop(self, count: float) -> Iterator[Task]:
        parked = self._parked
        while count > 0 and parked:
            task, _ = parked.popitem(last=False)
            count -= 1
            yield task

    def unpark(self, *, count: float = 1, value: Any = None) -> list[Task]:
        """Wake up to ``count`` tasks, oldest first; return them."""
        if count < 0:
            raise ValueError("count must be non-negative")
        runner = _state.runner()
        woken = list(self._pop(count))
        for task in woken:
            runner.reschedule(task, value)
        return woken

    def unpark_all(self, value: Any = None) -> list[Task]:
        return self.unpark(count=len(self._parked), value=value)

    def repark(self, new_lot: ParkingLot, *, count: float = 1) -> None:
        """Move up to ``count`` parked tasks to ``new_lot`` without waking them."""
        if not isinstance(new_lot, ParkingLot):
            raise TypeError("new_lot must be a ParkingLot")
        for task in self._pop(count):
            if new_lot.broken_by is not None:
                _state.runner().reschedule_error(task, new_lot._broken_error())
                continue
            new_lot._parked[task] = None
            task._abort_fn = new_lot._abort_for(task)

    def repark_all(self, new_lot: ParkingLot) -> None:
        self.repark(new_lot, count=len(self._parked))

    def _abort_for(self, task: Task) -> Any:
        parked = self._parked

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            del parked[task]
            return Abort.SUCCEEDED

        return abort

    def statistics(self) -> ParkingLotStatistics:
        return ParkingLotStatistics(len(self._parked))
