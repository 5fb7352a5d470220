"""anyio's TaskInfo for pike tasks."""

from __future__ import annotations

import weakref

from anyio import TaskInfo

from pike.lowlevel import Task


class PikeTaskInfo(TaskInfo):
    """A snapshot of a pike task, as anyio's introspection API reports it.

    Holds the task weakly: a TaskInfo kept in a test must not keep a finished
    task (and its coroutine frame) alive.
    """

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        nursery = task.parent_nursery
        parent_id = id(nursery.parent_task) if nursery is not None else None
        super().__init__(id(task), parent_id, task.name, task.coro)
        self._task = weakref.ref(task)

    def has_pending_cancellation(self) -> bool:
        task = self._task()
        return task is not None and task.cancel_pending
