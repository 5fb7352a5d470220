"""``CrossThreadEvent``: the seed's *Event*, set from any thread, awaited by pike tasks.

``pike.Event`` is for tasks of one run; this one may be ``set()`` by any
thread (a worker, a C library's callback thread, another event loop). It is
backed by the notifier's cross-thread wake-up: ``set()`` posts a callback with
``RunToken.run_sync_soon``, which queues it for the run and wakes the notifier
(an eventfd under epoll, a self-pipe under poll) — the same path the kernel
uses for ``to_thread`` results. So an idle run sleeps in the notifier, costs
nothing while waiting, and wakes within one loop iteration of ``set()``.

Unlike ``pike.Event`` it can be cleared again, like ``threading.Event``.
Do not call ``set()`` from a signal handler: it takes a lock the interrupted
code may hold (use ``open_signal_receiver``).
"""

from __future__ import annotations

import threading

from ._kernel import _state
from ._kernel._exceptions import RunFinishedError
from ._kernel._task import Task
from ._kernel._token import RunToken
from ._kernel._traps import (
    Abort,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    wait_task_rescheduled,
)


def _wake(task: Task) -> None:
    # Runs in the waiter's run thread, from the run's callback queue.
    _state.runner().reschedule(task, None)


class CrossThreadEvent:
    """A flag any thread may set; pike tasks (of any run) ``await wait()`` for it."""

    __slots__ = ("_flag", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flag = False
        # Parked task -> the token of the run it belongs to.
        self._waiters: dict[Task, RunToken] = {}

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiting task. Thread-safe; idempotent."""
        with self._lock:
            if self._flag:
                return
            self._flag = True
            waiters, self._waiters = self._waiters, {}
        for task, token in waiters.items():
            try:
                token.run_sync_soon(_wake, task)
            except RunFinishedError:
                pass  # that run is over; its task is gone with it

    def clear(self) -> None:
        """Unset the flag; later ``wait()`` calls block until the next ``set()``."""
        with self._lock:
            self._flag = False

    async def wait(self) -> None:
        """Return once the flag is set (at once if it already is). A checkpoint."""
        await checkpoint_if_cancelled()
        task = _state.current_task()
        with self._lock:
            if self._flag:
                ready = True
            else:
                ready = False
                self._waiters[task] = _state.runner().token
        if ready:
            await cancel_shielded_checkpoint()
            return

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            with self._lock:
                if self._waiters.pop(task, None) is not None:
                    return Abort.SUCCEEDED
            # set() already took it: its wake-up is on the way and will resume
            # the task normally; the cancellation shows at the next checkpoint.
            return Abort.FAILED

        await wait_task_rescheduled(abort)

    def __repr__(self) -> str:
        state = "set" if self._flag else "unset"
        return f"<pike.CrossThreadEvent {state}, {len(self._waiters)} waiting>"
