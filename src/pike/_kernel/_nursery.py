"""Nurseries: the only way to run tasks concurrently, and to wait for them.

A nursery's children live under ``nursery.cancel_scope``, so cancelling the
scope cancels both the body and the children. The nursery does not close until
the body and every child (and every pending ``start()``) is done; errors are
collected and come out together.

A nursery moves through three phases (``_Phase``): OPEN while its ``async with``
body runs, DRAINING once the body has left and the parent waits for the rest,
CLOSED when nothing is left. One method, ``_settle``, makes the only transition
that can happen from several places (DRAINING -> CLOSED); one function,
``_verdict``, turns the collected errors into what leaves the nursery.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _state
from ._cancel import CancelScope, exit_with
from ._exceptions import Cancelled
from ._spawn_checks import reject_coroutine_object
from ._traps import Abort, RaiseCancelT, cancel_shielded_checkpoint, wait_task_rescheduled

if TYPE_CHECKING:
    from ._task import Task

T = TypeVar("T")

_CLOSED_MESSAGE = "Nursery is closed to new arrivals"


class _Phase(enum.Enum):
    OPEN = "open"
    DRAINING = "draining"
    CLOSED = "closed"


_OPEN, _DRAINING, _CLOSED = _Phase.OPEN, _Phase.DRAINING, _Phase.CLOSED


def _verdict(errors: list[BaseException], unwrap_single: bool) -> BaseException | None:
    """The one place that decides what a finished nursery raises.

    Nothing, if nothing failed. A single ``Cancelled`` when cancellations are all
    there is: one says it all, and the scope that cancelled can catch it with a
    plain ``except Cancelled``. The lone error itself when the caller asked for
    unwrapping (``start()``'s private nursery does, so the child's error comes out
    of ``start()`` as itself). Otherwise a group of everything.
    """
    if not errors:
        return None
    if all(isinstance(error, Cancelled) for error in errors):
        return errors[0]
    if unwrap_single and len(errors) == 1:
        return errors[0]
    return BaseExceptionGroup("Exceptions from pike nursery", errors)


def _never_abort(raise_cancel: RaiseCancelT) -> Abort:
    # A parent draining its nursery ignores cancellation: the cancellation reaches
    # the children through the scope tree, and the parent waits for them anyway.
    return Abort.FAILED


class Nursery:
    """A place to spawn child tasks; see ``pike.open_nursery``."""

    __slots__ = (
        "_children",
        "_errors",
        "_parent_task",
        "_pending_starts",
        "_phase",
        "_unwrap_single",
        "_waiter",
        "cancel_scope",
    )

    def __init__(self, parent_task: Task, scope: CancelScope, unwrap_single: bool) -> None:
        self._phase = _OPEN
        self.cancel_scope = scope
        self._parent_task = parent_task
        # The parent, while it is parked in ``__aexit__`` waiting for the rest.
        self._waiter: Task | None = None
        self._children: set[Task] = set()
        self._pending_starts = 0
        self._errors: list[BaseException] = []
        self._unwrap_single = unwrap_single

    @property
    def parent_task(self) -> Task:
        return self._parent_task

    @property
    def child_tasks(self) -> frozenset[Task]:
        return frozenset(self._children)

    @property
    def _closed(self) -> bool:
        return self._phase is _CLOSED

    @property
    def _parent_waiting_in_aexit(self) -> bool:
        """Whether the parent is parked draining us (the runner delivers Ctrl-C here)."""
        return self._waiter is not None

    def start_soon(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> None:
        """Run ``async_fn(*args)`` as a child task, starting on a later tick."""
        if self._phase is _CLOSED:
            raise RuntimeError(_CLOSED_MESSAGE)
        runner = _state.local.runner
        if runner is None:
            raise RuntimeError("start_soon() must be called from inside pike.run()")
        runner.spawn(async_fn, args, self, name)

    async def start(
        self, async_fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> Any:
        """Run a child and wait until it calls ``task_status.started(value)``.

        Until then the child runs in a private nursery of the caller (the caller's
        cancellation reaches it and its errors come out of ``start()``); on
        ``started()`` the ``TaskStatus`` hands it over to this nursery, and
        ``start()`` returns the value once the private nursery is empty.
        """
        if self._phase is _CLOSED:
            raise RuntimeError(_CLOSED_MESSAGE)
        reject_coroutine_object(async_fn)
        self._pending_starts += 1
        try:
            async with _NurseryManager(unwrap_single=True) as staging:
                status: TaskStatus[Any] = TaskStatus(staging, self)
                task = _state.runner().spawn(
                    functools.partial(async_fn, task_status=status),
                    args,
                    staging,
                    async_fn if name is None else name,
                )
                task._eventual_parent_nursery = self
            return status._outcome()
        finally:
            self._pending_starts -= 1
            self._settle()

    # -- bookkeeping, called by the runner, the manager and TaskStatus -------------

    def _add_exc(self, exc: BaseException) -> None:
        """Record a failure; any failure cancels everything else in the nursery."""
        self._errors.append(exc)
        self.cancel_scope.cancel()

    def _settle(self) -> None:
        """Close if the body has left and nothing else is running; wake the parent."""
        if self._phase is not _DRAINING or self._children or self._pending_starts:
            return
        self._phase = _CLOSED
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            _state.runner().reschedule(waiter, None)

    def _child_finished(self, task: Task, exc: BaseException | None) -> None:
        self._children.discard(task)
        if exc is not None:
            self._add_exc(exc)
        self._settle()

    def _adopt_from(self, staging: Nursery) -> None:
        """Take over every task of ``staging`` (a ``start()``'s private nursery).

        The tasks change nursery, and whatever hung under the staging scope
        (the tasks' own scopes, the tasks themselves) re-hangs under ours.
        """
        if self._phase is _CLOSED:
            raise RuntimeError(_CLOSED_MESSAGE)
        moved, staging._children = staging._children, set()
        old_scope, new_scope = staging.cancel_scope, self.cancel_scope
        for task in moved:
            task._parent_nursery = self
            task._eventual_parent_nursery = None
            if task._root_scope is old_scope:
                task._root_scope = new_scope
        self._children |= moved
        old_scope._transplant_into(new_scope)
        staging._settle()

    async def _body_done(self, exc: BaseException | None) -> BaseException | None:
        """The ``async with`` body has left (with ``exc``): wait for the rest, then
        say what the nursery raises (before its cancel scope filters it)."""
        if exc is not None:
            self._add_exc(exc)
        self._phase = _DRAINING
        self._settle()
        if self._phase is _CLOSED:
            await cancel_shielded_checkpoint()
        else:
            self._waiter = self._parent_task
            await wait_task_rescheduled(_never_abort)
        errors, self._errors = self._errors, []
        return _verdict(errors, self._unwrap_single)


class _HandOff(enum.Enum):
    WAITING = "waiting"
    STARTED = "started"


class TaskStatus(Generic[T]):
    """Handed to a task run with ``nursery.start()`` to report it has started.

    A one-shot hand-off: WAITING until ``started(value)``, then STARTED with the
    value, and the task moved from the caller's private nursery into the target.
    """

    __slots__ = ("_phase", "_staging", "_target", "_value")

    def __init__(self, staging: Nursery, target: Nursery) -> None:
        self._staging = staging
        self._target = target
        self._phase = _HandOff.WAITING
        self._value: T | None = None

    def started(self, value: T | None = None) -> None:
        if self._phase is not _HandOff.WAITING:
            raise RuntimeError("called 'started' twice on the same task status")
        self._phase = _HandOff.STARTED
        self._value = value
        # A task whose start() was cancelled stays where it is: moved, it could
        # carry a Cancelled to a place where no cancelled scope exists to catch it.
        if not self._staging.cancel_scope._effective:
            self._target._adopt_from(self._staging)

    def _outcome(self) -> T | None:
        """What ``start()`` returns, once the private nursery is empty."""
        if self._phase is _HandOff.WAITING:
            raise RuntimeError("child exited without calling task_status.started()")
        return self._value

    def __repr__(self) -> str:
        return f"<pike.TaskStatus {self._phase.value} value={self._value!r}>"


class _IgnoredStatus(TaskStatus[Any]):
    """``TASK_STATUS_IGNORED``: lets a function run both by start() and start_soon()."""

    def __init__(self) -> None:
        pass

    def started(self, value: Any = None) -> None:
        pass

    def __repr__(self) -> str:
        return "pike.TASK_STATUS_IGNORED"


TASK_STATUS_IGNORED: TaskStatus[Any] = _IgnoredStatus()


def _check_scope_argument(scope: object) -> CancelScope | None:
    if scope is None:
        return None
    if not isinstance(scope, CancelScope):
        raise TypeError(
            f"cancel_scope must be a pike.CancelScope (or subclass) instance, "
            f"not {type(scope).__name__}"
        )
    if scope._entered:
        raise RuntimeError("cancel_scope must be a fresh CancelScope that was never entered")
    return scope


class _NurseryManager:
    """What ``open_nursery()`` returns: an async context manager for a Nursery."""

    __slots__ = ("_nursery", "_scope", "_unwrap_single")

    def __init__(self, unwrap_single: bool = False, scope: CancelScope | None = None) -> None:
        self._unwrap_single = unwrap_single
        self._scope = scope

    async def __aenter__(self) -> Nursery:
        task = _state.current_task()
        scope = self._scope
        if scope is None:
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
        outgoing = await nursery._body_done(exc)
        nursery._parent_task._child_nurseries.remove(nursery)
        outgoing = nursery.cancel_scope._close(outgoing)
        try:
            return exit_with(exc, outgoing)
        finally:
            # Break the exception -> traceback -> this frame -> exception cycle.
            del outgoing, exc


def open_nursery(*, cancel_scope: CancelScope | None = None) -> _NurseryManager:
    """Open a nursery: ``async with pike.open_nursery() as nursery: ...``.

    ``cancel_scope`` chooses the object that becomes ``nursery.cancel_scope``: a
    ``pike.CancelScope`` (or an instance of a subclass) that was never entered,
    with whatever deadline or shield it was made with. A library layering its
    own scope type over pike (pike_anyio does) passes one of its scopes, so the
    nursery's scope *is* its type without wrapping. By default a new plain
    ``pike.CancelScope()`` is used.
    """
    return _NurseryManager(scope=_check_scope_argument(cancel_scope))
