"""anyio's task introspection (``TaskInfo``, ``get_running_tasks``) over pike's task tree."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from anyio import TaskInfo

from pike.lowlevel import Task


def walk_task_tree(root: Task) -> Iterator[Task]:
    """Every live task from ``root`` down, each parent before its children.

    pike keeps the tree itself (tasks own nurseries, nurseries own tasks), so
    "all running tasks" is a depth-first walk of it, with the system tasks
    included because they hang under the root too. The properties it reads
    return copies, so the walk is safe even if a task spawns while it runs.
    """
    stack = [root]
    while stack:
        task = stack.pop()
        yield task
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)


def _parent_of(task: Task) -> Task | None:
    """The task whose nursery ``task`` runs in; None for the root."""
    nursery = task.parent_nursery
    return None if nursery is None else nursery.parent_task


class PikeTaskInfo(TaskInfo):
    """anyio's snapshot of a pike task; task ids are ``id()`` of pike's ``Task``.

    Holds the task weakly: a TaskInfo kept in a test must not keep a finished
    task (and its coroutine frame) alive. Only ``has_pending_cancellation``
    looks at the task again; the other fields are fixed when the info is made.
    """

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        parent = _parent_of(task)
        super().__init__(
            id=id(task),
            parent_id=None if parent is None else id(parent),
            name=task.name,
            coro=task.coro,
        )
        self._task = weakref.ref(task)

    def has_pending_cancellation(self) -> bool:
        task = self._task()
        return task is not None and task.cancel_pending
