"""``open_signal_receiver``: receive Unix signals as an async iterator.

How signals get in: Python-level handlers plus a wake-up fd, not signalfd.

signalfd (what the Zig seed uses) only works if the signal is blocked with
``pthread_sigmask`` in *every* thread of the process; otherwise the kernel
delivers it to some thread that has it unblocked, through the normal
disposition, and signalfd never sees it. Python can block it in the threads
it starts afterwards, but not in threads that already run, nor in threads a C
library starts (resolvers, BLAS pools, ...). A blocked SIGINT would also stop
Python's own KeyboardInterrupt handling, and Python exposes no signalfd call
(only via ctypes). So signalfd would be unsound here.

Instead ``open_signal_receiver`` installs a Python handler for each signal.
Python runs it in the main thread (pike's run thread) between bytecodes; it
only records the signal number and posts a callback with ``run_sync_soon`` to
wake the receiver's task. Modifying the run's state directly from a handler
would be unsafe, since it can interrupt the kernel in the middle of anything.

One race remains with handlers alone: a signal that arrives just before the
notifier enters ``epoll_wait``/``poll`` runs its C-level handler at once, but
the Python handler only after the wait returns, which may be never. The run
closes it for every signal (SIGINT included): while it runs in the main thread
it points ``signal.set_wakeup_fd`` at an fd its notifier watches, so the C
handler's byte ends the wait and the Python handler runs.

On exit the previous handlers come back, and signals that arrived but were
never received are re-raised so those handlers see them (trio's rule).
"""

from __future__ import annotations

import collections
import signal
import threading
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import contextmanager
from typing import Any

from ._kernel import _state
from ._kernel._current import current_token
from ._kernel._exceptions import BusyResourceError
from ._kernel._task import Task
from ._kernel._token import RunToken
from ._kernel._traps import (
    Abort,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    wait_task_rescheduled,
)


class SignalReceiver:
    """Yields signal numbers as they arrive; several of one kind coalesce."""

    def __init__(self, token: RunToken) -> None:
        self._token = token
        # Insertion-ordered set: a signal pending twice is reported once.
        self._pending: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._waiter: Task | None = None
        self._wake_posted = False
        self._closed = False

    def _handler(self, signum: int, frame: object) -> None:
        # Runs between two bytecodes of whatever the main thread was doing.
        self._pending[signum] = None
        if not self._wake_posted and not self._closed:
            self._wake_posted = True
            self._token.run_sync_soon(self._wake)

    def _wake(self) -> None:
        self._wake_posted = False
        task = self._waiter
        if task is not None:
            self._waiter = None
            _state.runner().reschedule(task, None)

    def __aiter__(self) -> AsyncIterator[int]:
        return self

    async def __anext__(self) -> int:
        if self._closed:
            raise RuntimeError("this signal receiver's 'with' block has exited")
        if self._waiter is not None:
            raise BusyResourceError("another task is already iterating this signal receiver")
        await checkpoint_if_cancelled()
        if self._pending:
            signum = self._pending.popitem(last=False)[0]
            await cancel_shielded_checkpoint()
            return signum
        self._waiter = _state.current_task()

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            self._waiter = None
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)
        return self._pending.popitem(last=False)[0]

    def _redeliver_pending(self) -> None:
        pending, self._pending = list(self._pending), collections.OrderedDict()
        for signum in pending:
            signal.raise_signal(signum)


@contextmanager
def open_signal_receiver(*signals: int | signal.Signals) -> Generator[SignalReceiver, None, None]:
    """Catch ``signals`` while the ``with`` block runs; iterate the result to get them.

    ::

        with pike.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as receiver:
            async for signum in receiver:
                ...

    Only in the main thread, inside ``pike.run``.
    """
    if not signals:
        raise TypeError("open_signal_receiver needs at least one signal")
    for signum in signals:
        if not isinstance(signum, int):
            raise TypeError(f"signals are ints, not {type(signum).__name__}")
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signals can only be received in the main thread")
    receiver = SignalReceiver(current_token())
    previous: dict[int, Callable[[int, Any], Any] | int | None] = {}
    try:
        for signum in signals:
            previous[int(signum)] = signal.signal(signum, receiver._handler)
        yield receiver
    finally:
        receiver._closed = True
        for signum, handler in previous.items():
            # None: a handler Python did not install; the default is the best guess.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        receiver._redeliver_pending()
