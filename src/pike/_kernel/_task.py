"""The kernel's unit of concurrency."""

from __future__ import annotations

import contextvars
import enum
import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._cancel import CancelScope
    from ._nursery import Nursery
    from ._traps import AbortFn


def _task_name(source: object) -> str:
    """A function's dotted name (through partials), else the object's repr."""
    while isinstance(source, functools.partial):
        source = source.func
    qualname = getattr(source, "__qualname__", None)
    if not isinstance(qualname, str):
        return repr(source)
    module = getattr(source, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


class Pending(enum.Enum):
    """Explicit task states that are neither a value nor an exception."""

    # In ``_next_exc``: a plain checkpoint; check for cancellation on resuming
    # (after the yield, so a deadline that passed meanwhile is seen).
    CHECK_CANCEL = "check for cancellation when resumed"
    # In ``_abort_fn``: still parked, but its abort function already declined
    # to let it go, so it must not be asked again.
    ABORT_DECLINED = "parked; abort already declined"


CHECK_CANCEL: Literal[Pending.CHECK_CANCEL] = Pending.CHECK_CANCEL
ABORT_DECLINED: Literal[Pending.ABORT_DECLINED] = Pending.ABORT_DECLINED


class Task:
    """A coroutine the kernel drives, with its place in the task tree.

    The ``_next_*`` slots hold what the task receives when it next runs; a
    parked task has ``_abort_fn`` set and is in no queue.
    """

    __slots__ = (
        "__weakref__",
        "_abort_fn",
        "_cancel_scope",
        "_child_nurseries",
        "_eventual_parent_nursery",
        "_exit_hooks",
        "_exited",
        "_name",
        "_next_exc",
        "_next_value",
        "_parent_nursery",
        "_root_scope",
        "_send",
        "context",
        "coro",
    )

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        name: object,
        context: contextvars.Context,
        parent_nursery: Nursery | None,
        scope: CancelScope,
    ) -> None:
        self.coro = coro
        # A str, or what to derive the name from on first use (most tasks'
        # names are never read, so spawning does not pay for formatting one).
        self._name = name
        self.context = context
        # Bound once: the run loop resumes a task with
        # ``context.run(_send, value)`` on every step. (Binding ``context.run``
        # as well measured worse: more instructions per spawn than per step saved.)
        self._send = coro.send
        self._parent_nursery = parent_nursery
        self._eventual_parent_nursery: Nursery | None = None
        self._child_nurseries: list[Nursery] = []
        # The scope the task was spawned under; its own scopes hang below it.
        self._root_scope = scope
        self._cancel_scope = scope
        self._abort_fn: AbortFn | Literal[Pending.ABORT_DECLINED] | None = None
        self._next_value: Any = None
        self._next_exc: BaseException | Literal[Pending.CHECK_CANCEL] | None = None
        # Run when the task exits, keyed by what registered them: a Lock whose
        # owner this task is, once another task waits for it (see _sync.Lock).
        self._exit_hooks: dict[object, Callable[[Task], None]] | None = None
        self._exited = False

    @property
    def name(self) -> str:
        name = self._name
        if not isinstance(name, str):
            name = self._name = _task_name(name)
        return name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)

    @property
    def parent_nursery(self) -> Nursery | None:
        """The nursery this task runs in (None for the root task)."""
        return self._parent_nursery

    @property
    def eventual_parent_nursery(self) -> Nursery | None:
        """For a task started with ``nursery.start()``: where it will move."""
        return self._eventual_parent_nursery

    @property
    def child_nurseries(self) -> list[Nursery]:
        """The nurseries this task has open, outermost first."""
        return list(self._child_nurseries)

    @property
    def cancel_pending(self) -> bool:
        """Whether the task's next checkpoint would raise Cancelled."""
        return self._cancel_scope._effective

    def _new_cancelled(self) -> BaseException:
        """The Cancelled to deliver, naming the cancel() that reaches this task."""
        from ._exceptions import Cancelled

        scope: CancelScope | None = self._cancel_scope
        while scope is not None:
            if scope._cancel_called:
                return Cancelled._create(scope._reason, scope._canceller)
            if scope._shield:
                break
            scope = scope._parent
        return Cancelled._create()

    def iter_await_frames(self) -> Any:
        """Yield (frame, lineno) down the chain of awaits, innermost last."""
        coro: Any = self.coro
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is None:
                return
            yield frame, frame.f_lineno
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)

    def __repr__(self) -> str:
        return f"<pike.lowlevel.Task {self.name!r} at {id(self):#x}>"
