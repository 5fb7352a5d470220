"""Cancel scopes: a tree whose nodes know whether they are cancelled.

Each scope caches ``_effective`` ("a checkpoint here raises Cancelled"): its own
``cancel()`` or, unless it is shielded, its parent's. The cache is recomputed
only when something changes (cancel, shield, re-parenting), so a checkpoint
costs one attribute load. A scope records the tasks whose *innermost* scope it
is and its child scopes, which is all ``cancel()`` needs to find and wake the
parked tasks it affects.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING

from . import _state
from ._exceptions import Cancelled, TooSlowError

if TYPE_CHECKING:
    from ._task import Task
    from ._timers import TimerEntry, Timers

_INF = math.inf


def exit_with(incoming: BaseException | None, outgoing: BaseException | None) -> bool:
    """Finish an ``__exit__``/``__aexit__`` that turned ``incoming`` into ``outgoing``.

    The with-statement protocol has three answers, and this is where pike gives
    them for both scopes and nurseries: the same exception goes on (return False,
    which also covers "none in, none out"), it was swallowed (return True), or a
    different one replaces it (raise it here). A replacement is usually what is
    left of a group once our ``Cancelled`` was split off; ``split()`` gave it the
    group's ``__context__``, which a plain ``raise`` inside ``__exit__`` would
    overwrite with the group itself, so the context is put back.
    """
    if outgoing is incoming:
        return False
    if outgoing is None:
        return True
    context = outgoing.__context__
    try:
        raise outgoing
    finally:
        outgoing.__context__ = context
        del outgoing, incoming, context


def _check_deadline(deadline: float) -> float:
    if not isinstance(deadline, (int, float)):
        raise TypeError(f"deadline must be a number, not {type(deadline).__name__}")
    if math.isnan(deadline):
        raise ValueError("deadline must not be NaN")
    return float(deadline)


class CancelScope:
    """A region of code that can be cancelled as a unit (trio's CancelScope)."""

    __slots__ = (
        "__weakref__",
        "_cancel_called",
        "_canceller",
        "_children",
        "_deadline",
        "_effective",
        "_entered",
        "_exited",
        "_owner",
        "_parent",
        "_reason",
        "_relative_deadline",
        "_shield",
        "_tasks",
        "_timer_entry",
        "_timers",
        "cancelled_caught",
    )

    def __init__(
        self,
        *,
        deadline: float = _INF,
        relative_deadline: float = _INF,
        shield: bool = False,
    ) -> None:
        # (NaN and non-numbers compare unequal to inf, so they reach the checks.)
        self._deadline = deadline if deadline == _INF else _check_deadline(deadline)
        if relative_deadline == _INF:
            self._relative_deadline = _INF
        else:
            self._relative_deadline = _check_deadline(relative_deadline)
            if self._relative_deadline < 0:
                raise ValueError("relative_deadline must be non-negative")
            if self._deadline != _INF:
                raise ValueError("cannot give both deadline and relative_deadline")
        self._shield = bool(shield)
        self._cancel_called = False
        self._reason: str | None = None
        self._canceller: str | None = None
        self.cancelled_caught = False
        self._effective = False
        self._entered = False
        self._exited = False
        self._parent: CancelScope | None = None
        self._owner: Task | None = None
        self._children: set[CancelScope] | None = None
        # Tasks spawned by a nursery right under this scope (not the owner).
        self._tasks: set[Task] | None = None
        # Set while the deadline is in the run's heap (and the heap, to leave it).
        self._timer_entry: TimerEntry | None = None
        self._timers: Timers | None = None

    # -- entering and leaving -------------------------------------------------

    def __enter__(self) -> CancelScope:
        task = _state.local.task
        if task is None:
            raise RuntimeError("cancel scopes can only be entered inside a pike task")
        if self._entered:
            raise RuntimeError("each CancelScope may only be used for a single 'with' block")
        self._entered = True
        self._owner = task
        parent = self._parent = task._cancel_scope
        children = parent._children
        if children is None:
            parent._children = {self}
        else:
            children.add(self)
        task._cancel_scope = self
        if self._relative_deadline != _INF or self._deadline != _INF:
            # The deadline starts counting (relative) or is armed (absolute) now.
            runner = _state.local.runner
            assert runner is not None  # a task is running, so its run is
            now = runner.clock.current_time()
            if self._relative_deadline != _INF:
                self._deadline = now + self._relative_deadline
                self._relative_deadline = _INF
            if self._deadline <= now:
                self._cancel_called = True
                self._reason = "deadline exceeded"
            else:
                timers = self._timers = runner.timers
                timers.add(self)
        self._effective = self._cancel_called or (not self._shield and parent._effective)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        outgoing = self._close(exc)
        if outgoing is exc:  # the common case, without a call
            return False
        try:
            return exit_with(exc, outgoing)
        finally:
            # Break the exception -> traceback -> this frame -> exception cycle.
            del outgoing, exc

    def _close(self, exc: BaseException | None) -> BaseException | None:
        """Leave the scope; return what should keep propagating instead of ``exc``."""
        task = self._owner
        misnested: RuntimeError | None = None
        if task is None or task._cancel_scope is not self or task is not _state.local.task:
            misnested = self._refuse_exit(task)
            task = self._owner
            assert task is not None
        # Leave: written out here rather than called, as every scope exit runs it.
        parent = self._parent
        assert parent is not None
        task._cancel_scope = parent
        children = parent._children
        if children is not None:
            children.discard(self)
        self._exited = True
        timers = self._timers
        if timers is not None:
            timers.drop(self)
        if misnested is not None:
            raise misnested
        if exc is None or not self._catches_own_cancellation():
            return exc
        return self._strip_cancelled(exc)

    def _refuse_exit(self, task: Task | None) -> RuntimeError:
        """Raise why this exit is wrong (the well-nested exit never gets here).

        A misnested exit (an inner scope still open) must still leave, so that
        the task stays usable and a later exit does not fail a second time:
        the inner scopes are abandoned here and the error is returned, for
        ``_close`` to raise once this scope has exited.
        """
        if task is None:
            raise RuntimeError("this cancel scope was never entered")
        if self._exited:
            raise RuntimeError("this cancel scope was already exited")
        if task is not _state.local.task:
            raise RuntimeError(
                "cancel scope exited in a different task from the one that entered it"
            )
        innermost: CancelScope | None = task._cancel_scope
        while innermost is not None and innermost is not self:
            innermost._abandon()
            innermost = innermost._parent
        return RuntimeError("cancel scope stack corrupted: a scope was exited before an inner one")

    def _catches_own_cancellation(self) -> bool:
        """Whether a Cancelled passing through here is this scope's to stop.

        Only if we were cancelled, and no enclosing cancellation is visible from
        here too (then it must go on to reach that scope).
        """
        if not self._cancel_called:
            return False
        parent = self._parent
        return self._shield or parent is None or not parent._effective

    def _strip_cancelled(self, exc: BaseException) -> BaseException | None:
        """``exc`` minus the Cancelled in it, noting in ``cancelled_caught`` if any."""
        if isinstance(exc, Cancelled):
            self.cancelled_caught = True
            return None
        if isinstance(exc, BaseExceptionGroup):
            cancelled, rest = exc.split(Cancelled)
            if cancelled is not None:
                self.cancelled_caught = True
            return rest
        return exc

    def _abandon(self) -> None:
        """Retire a scope its task left without exiting it (misnesting, or the
        task ended inside it): off the tree and off the timer heap."""
        self._exited = True
        if self._parent is not None and self._parent._children:
            self._parent._children.discard(self)
        if self._timer_entry is not None:
            self._drop_timer()

    def _drop_timer(self) -> None:
        timers = self._timers
        assert timers is not None  # set whenever _timer_entry is
        timers.drop(self)

    # -- the tree -------------------------------------------------------------

    def _attach(self, parent: CancelScope) -> None:
        self._parent = parent
        if parent._children is None:
            parent._children = set()
        parent._children.add(self)

    def _transplant_into(self, new_parent: CancelScope) -> None:
        """Re-hang everything below this scope (child scopes, nursery tasks) under
        ``new_parent``, leaving this scope empty; tasks it newly cancels are woken.

        Everything is detached before anything is re-attached: re-attaching under
        a cancelled scope runs abort callbacks, which must not find half-moved state.
        """
        scopes, self._children = self._children or (), None
        tasks, self._tasks = self._tasks or (), None
        for scope in scopes:
            scope._attach(new_parent)
            scope._recompute()
        if tasks:
            if new_parent._tasks is None:
                new_parent._tasks = set()
            deliver = _state.runner().deliver_cancel if new_parent._effective else None
            for task in tasks:
                if task._cancel_scope is self:
                    task._cancel_scope = new_parent
                new_parent._tasks.add(task)
                if deliver is not None:
                    deliver(task)

    def _recompute(self) -> None:
        """Refresh ``_effective`` here and below; wake tasks newly cancelled.

        The tasks to wake are the owner and the nursery children spawned right
        under this scope; ``deliver_cancel`` itself skips a task whose innermost
        scope is shielded from us (that scope is a descendant we also visit).
        """
        parent = self._parent
        effective = self._cancel_called or (
            not self._shield and parent is not None and parent._effective
        )
        if effective == self._effective:
            return
        self._effective = effective
        if effective:
            deliver = _state.runner().deliver_cancel
            if self._owner is not None and not self._exited:
                deliver(self._owner)
            if self._tasks:
                for task in list(self._tasks):
                    deliver(task)
        if self._children:
            for child in list(self._children):
                child._recompute()

    # -- public API -----------------------------------------------------------

    def cancel(self, reason: str | None = None) -> None:
        """Cancel everything in this scope, now and until it exits."""
        if self._cancel_called:
            return
        self._cancel_called = True
        self._reason = reason
        task = _state.local.task
        self._canceller = task.name if task is not None else None
        if self._timer_entry is not None:
            self._drop_timer()
        if self._owner is not None or self._tasks:
            self._recompute()

    @property
    def cancel_called(self) -> bool:
        """Whether ``cancel()`` was called or the deadline expired.

        The run loop expires deadlines once per pass; reading this checks the
        clock too, so a deadline already in the past (set just now, or given to
        a scope not entered yet) reads as cancelled at once, as on trio. Only
        this read pays for the clock, never a checkpoint.
        """
        if not self._cancel_called and self._deadline != _INF and not self._exited:
            runner = _state.local.runner
            if runner is not None and runner.clock.current_time() >= self._deadline:
                self.cancel("deadline exceeded")
                self._canceller = None
        return self._cancel_called

    @property
    def cancel_reason(self) -> str | None:
        return self._reason

    _NO_ABSOLUTE = "an unentered relative cancel scope does not have an absolute deadline yet"
    _NO_RELATIVE = "an unentered absolute cancel scope does not have a relative deadline"

    @property
    def deadline(self) -> float:
        """When the scope cancels itself (``math.inf`` for never); mutable.

        A scope made with ``relative_deadline`` gets its absolute deadline only
        when entered; before that, reading or setting it is an error (trio's
        rule), since a silent conversion would lose what the caller asked for.
        """
        if self._relative_deadline != _INF:
            raise RuntimeError(self._NO_ABSOLUTE)
        return self._deadline

    @deadline.setter
    def deadline(self, new_deadline: float) -> None:
        new_deadline = _check_deadline(new_deadline)
        if self._relative_deadline != _INF:
            raise RuntimeError(self._NO_ABSOLUTE)
        self._set_deadline(new_deadline)

    def _set_deadline(self, new_deadline: float) -> None:
        self._deadline = new_deadline
        if not self._entered or self._cancel_called or self._exited:
            return
        if self._timer_entry is not None:
            self._drop_timer()
        if new_deadline != _INF:
            timers = self._timers = _state.runner().timers
            timers.add(self)

    @property
    def relative_deadline(self) -> float:
        """Seconds until the deadline; mutable.

        Before the scope is entered it is the delay counted from entry (an
        error for a scope given an absolute deadline); once entered, it is
        counted from now on pike's clock, and setting it moves the deadline.
        """
        if self._entered:
            return self._deadline - _state.runner().clock.current_time()
        if self._deadline != _INF:
            raise RuntimeError(self._NO_RELATIVE)
        return self._relative_deadline

    @relative_deadline.setter
    def relative_deadline(self, new_relative_deadline: float) -> None:
        seconds = _check_deadline(new_relative_deadline)
        if seconds < 0:
            raise ValueError("relative_deadline must be non-negative")
        if self._entered:
            self._set_deadline(_state.runner().clock.current_time() + seconds)
        elif self._deadline != _INF:
            raise RuntimeError(self._NO_RELATIVE)
        else:
            self._relative_deadline = seconds

    @property
    def is_relative(self) -> bool | None:
        """Before entry: whether the deadline counts from entry (False also when
        there is none). After entry: None, the deadline being absolute by then."""
        if self._entered:
            return None
        return self._relative_deadline != _INF

    @property
    def shield(self) -> bool:
        """While true, cancellation from outside does not reach inside."""
        return self._shield

    @shield.setter
    def shield(self, new_value: bool) -> None:
        if not isinstance(new_value, bool):
            raise TypeError("shield must be a bool")
        if new_value == self._shield:
            return
        self._shield = new_value
        if self._owner is not None or self._tasks:
            self._recompute()

    def __repr__(self) -> str:
        state = "cancelled" if self._cancel_called else "active"
        return f"<pike.CancelScope {state} deadline={self._deadline} shield={self._shield}>"


# -- convenience constructors ---------------------------------------------------


def _check_seconds(seconds: float) -> float:
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"timeout must be a number, not {type(seconds).__name__}")
    if math.isnan(seconds):
        raise ValueError("timeout must not be NaN")
    if seconds < 0:
        raise ValueError("timeout must be non-negative")
    return float(seconds)


def move_on_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """A scope that is cancelled at ``deadline`` (absolute, on pike's clock)."""
    return CancelScope(deadline=deadline, shield=shield)


def move_on_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """A scope cancelled ``seconds`` after it is entered."""
    scope = CancelScope(shield=True) if shield else CancelScope()
    # Set after construction: ``seconds`` is validated once, here, in the timeout's
    # words; passing it to the constructor would validate it a second time. A
    # plain int or float that is >= 0 (which NaN is not) needs no further check.
    if (type(seconds) is float or type(seconds) is int) and seconds >= 0:
        scope._relative_deadline = float(seconds)
    else:
        scope._relative_deadline = _check_seconds(seconds)
    return scope


class _Failing(AbstractContextManager[CancelScope]):
    """A cancel scope whose own deadline turns into ``TooSlowError``.

    The scope does the work (it catches the Cancelled its deadline caused); this
    only looks at the verdict on the way out. A plain object rather than a
    generator-based context manager: no generator frame per use.
    """

    __slots__ = ("_scope",)

    def __init__(self, scope: CancelScope) -> None:
        self._scope = scope

    def __enter__(self) -> CancelScope:
        return self._scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        swallowed = self._scope.__exit__(exc_type, exc, tb)
        if self._scope.cancelled_caught:
            raise TooSlowError
        return swallowed


def fail_at(deadline: float, *, shield: bool = False) -> AbstractContextManager[CancelScope]:
    """Like ``move_on_at``, but raise ``TooSlowError`` if the deadline expires."""
    return _Failing(CancelScope(deadline=deadline, shield=shield))


def fail_after(seconds: float, *, shield: bool = False) -> AbstractContextManager[CancelScope]:
    """Like ``move_on_after``, but raise ``TooSlowError`` if the deadline expires."""
    return _Failing(move_on_after(seconds, shield=shield))


def current_effective_deadline() -> float:
    """The deadline the current task is really subject to (-inf if cancelled)."""
    scope: CancelScope | None = _state.current_task()._cancel_scope
    if scope is not None and scope._effective:
        return -_INF
    deadline = _INF
    while scope is not None:
        if scope._deadline < deadline:
            deadline = scope._deadline
        if scope._shield:
            break
        scope = scope._parent
    return deadline
