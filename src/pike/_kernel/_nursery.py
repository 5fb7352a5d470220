"""Nurseries: the only way to run tasks concurrently, and to wait for them.

A nursery's children live under ``nursery.cancel_scope``, so cancelling the
scope cancels both the body and the children. The nursery does not close until
the body and every child (and every pending ``start()``) is done; errors are
collected and come out together.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _state
from ._cancel import CancelScope, reraise_keeping_context
from ._exceptions import Cancelled
from ._spawn_checks import reject_coroutine_object
from ._traps import Abort, RaiseCancelT, cancel_shielded_checkpoint, wait_task_rescheduled

if TYPE_CHECKING:
    from ._task import Task

T = TypeVar("T")


class _NoStatus:
    __repr__ = lambda self: "<no status>"  # noqa: E731


_NO_STATUS = _NoStatus()


class Nursery:
    """A place to spawn child tasks; see ``pike.open_nursery``."""

    __slots__ = (
        "_children",
        "_closed",
        "_nested_child_running",
        "_parent_task",
        "_parent_waiting_in_aexit",
        "_pending_excs",
        "_pending_starts",
        "_unwrap_single",
        "cancel_scope",
    )

    def __init__(self, parent_task: Task, scope: CancelScope, unwrap_single: bool) -> None:
        self._parent_task = parent_task
        self.cancel_scope = scope
        self._children: set[Task] = set()
        self._pending_excs: list[BaseException] = []
        self._nested_child_running = True
        self._parent_waiting_in_aexit = False
        self._closed = False
        self._pending_starts = 0
        self._unwrap_single = unwrap_single

    @property
    def parent_task(self) -> Task:
        return self._parent_task

    @property
    def child_tasks(self) -> frozenset[Task]:
        return frozenset(self._children)

    def start_soon(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> None:
        """Run ``async_fn(*args)`` as a child task, starting on a later tick."""
        if self._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        runner = _state.local.runner
        if runner is None:
            raise RuntimeError("start_soon() must be called from inside pike.run()")
        runner.spawn(async_fn, args, self, name)

    async def start(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> Any:
        """Run a child and wait until it calls ``task_status.started(value)``.

        Until then the child runs inside the caller (the caller's cancellation
        reaches it and its errors come out of ``start()``); on ``started()`` it
        moves into this nursery and ``start()`` returns the value.
        """
        if self._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        reject_coroutine_object(async_fn)
        if name is None:
            name = async_fn
        self._pending_starts += 1
        try:
            async with _NurseryManager(unwrap_single=True) as old_nursery:
                status: TaskStatus[Any] = TaskStatus(old_nursery, self)
                thunk = functools.partial(async_fn, task_status=status)
                task = _state.runner().spawn(thunk, args, old_nursery, name)
                task._eventual_parent_nursery = self
            if status._value is _NO_STATUS:
                raise RuntimeError("child exited without calling task_status.started()")
            return status._value
        finally:
            self._pending_starts -= 1
            self._check_closed()

    # -- bookkeeping, called by the runner and the manager -------------------------

    def _add_exc(self, exc: BaseException) -> None:
        self._pending_excs.append(exc)
        self.cancel_scope.cancel()

    def _check_closed(self) -> None:
        if not (self._nested_child_running or self._children or self._pending_starts):
            self._closed = True
            if self._parent_waiting_in_aexit:
                self._parent_waiting_in_aexit = False
                _state.runner().reschedule(self._parent_task, None)

    def _child_finished(self, task: Task, exc: BaseException | None) -> None:
        self._children.discard(task)
        if exc is not None:
            self._add_exc(exc)
        self._check_closed()

    async def _nested_child_finished(self, exc: BaseException | None) -> BaseException | None:
        if exc is not None:
            self._add_exc(exc)
        self._nested_child_running = False
        self._check_closed()
        if self._closed:
            await cancel_shielded_checkpoint()
        else:
            # Cancellation while we wait reaches the children through the scope
            # tree already; we keep waiting for them to finish.
            def abort(raise_cancel: RaiseCancelT) -> Abort:
                return Abort.FAILED

            self._parent_waiting_in_aexit = True
            await wait_task_rescheduled(abort)
        excs = self._pending_excs
        if not excs:
            return None
        self._pending_excs = []
        if len(excs) == 1 and (self._unwrap_single or isinstance(excs[0], Cancelled)):
            return excs[0]
        if all(isinstance(e, Cancelled) for e in excs):
            # Only cancellations: one Cancelled says it all, and lets a plain
            # ``except Cancelled`` (or the scope that cancelled) catch it.
            return excs[0]
        return BaseExceptionGroup("Exceptions from pike nursery", excs)


class TaskStatus(Generic[T]):
    """Handed to a task run with ``nursery.start()`` to report it has started."""

    __slots__ = ("_new_nursery", "_old_nursery", "_value")

    def __init__(self, old_nursery: Nursery, new_nursery: Nursery) -> None:
        self._old_nursery = old_nursery
        self._new_nursery = new_nursery
        self._value: Any = _NO_STATUS

    def started(self, value: T | None = None) -> None:
        if self._value is not _NO_STATUS:
            raise RuntimeError("called 'started' twice on the same task status")
        self._value = value
        old, new = self._old_nursery, self._new_nursery
        # A cancelled child stays put: moving it could carry a Cancelled to a
        # place where no cancelled scope exists to catch it.
        if old.cancel_scope._effective:
            return
        if new._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        tasks, old._children = old._children, set()
        for task in tasks:
            task._parent_nursery = new
            task._eventual_parent_nursery = None
            new._children.add(task)
        old_scope, new_scope = old.cancel_scope, new.cancel_scope
        # Detach everything first: re-attaching under a cancelled scope can run
        # abort callbacks, which must not find half-moved state.
        moved_scopes = list(old_scope._children or ())
        moved_tasks = list(old_scope._tasks or ())
        old_scope._children = None
        old_scope._tasks = None
        for scope in moved_scopes:
            scope._attach(new_scope)
            scope._recompute()
        runner = _state.runner()
        if new_scope._tasks is None:
            new_scope._tasks = set()
        for task in moved_tasks:
            if task._cancel_scope is old_scope:
                task._cancel_scope = new_scope
            new_scope._tasks.add(task)
            if new_scope._effective:
                runner.deliver_cancel(task)
        for task in tasks:
            if task._root_scope is old_scope:
                task._root_scope = new_scope
        old._check_closed()

    def __repr__(self) -> str:
        return f"<pike.TaskStatus value={self._value!r}>"


class _IgnoredStatus(TaskStatus[Any]):
    """``TASK_STATUS_IGNORED``: lets a function run both by start() and start_soon()."""

    def __init__(self) -> None:
        pass

    def started(self, value: Any = None) -> None:
        pass

    def __repr__(self) -> str:
        return "pike.TASK_STATUS_IGNORED"


TASK_STATUS_IGNORED: TaskStatus[Any] = _IgnoredStatus()


class _NurseryManager:
    """What ``open_nursery()`` returns: an async context manager for a Nursery."""

    __slots__ = ("_nursery", "_scope", "_unwrap_single")

    def __init__(self, unwrap_single: bool = False) -> None:
        self._unwrap_single = unwrap_single

    async def __aenter__(self) -> Nursery:
        task = _state.current_task()
        scope = self._scope = CancelScope()
        scope.__enter__()
        nursery = self._nursery = Nursery(task, scope, self._unwrap_single)
        task._child_nurseries.append(nursery)
        return nursery

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        nursery = self._nursery
        new_exc = await nursery._nested_child_finished(exc)
        nursery._parent_task._child_nurseries.remove(nursery)
        remaining = self._scope._close(new_exc)
        if remaining is None:
            return True
        if remaining is exc:
            return False
        try:
            reraise_keeping_context(remaining)
        finally:
            # Break the exception -> traceback -> this frame -> exception cycle.
            del remaining, new_exc, exc


def open_nursery() -> _NurseryManager:
    """Open a nursery: ``async with pike.open_nursery() as nursery: ...``."""
    return _NurseryManager()
