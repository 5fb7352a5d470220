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
the Python handler only after the wait returns, which may be never. Python's
answer is ``signal.set_wakeup_fd``: the C-level handler also writes a byte to
that fd. While a receiver is open, pike points it at an fd the run's notifier
watches (the poll notifier's self-pipe, or a socketpair registered with the
epoll notifier), so the wait returns and the handler runs. An fd someone else
installed (an asyncio loop in this thread, say) is left alone.

On exit the previous handlers come back, and signals that arrived but were
never received are re-raised so those handlers see them (trio's rule).
"""

from __future__ import annotations

import collections
import signal
import socket as _stdlib_socket
import threading
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import contextmanager
from typing import Any

from ._kernel import _state
from ._kernel._exceptions import BusyResourceError
from ._kernel._runner import RunToken, current_token
from ._kernel._task import Task
from ._kernel._traps import (
    Abort,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    wait_task_rescheduled,
)
from ._notifier import Reactor


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
        _drain_wakeup_socket()
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


# -- the wake-up fd --------------------------------------------------------------------


class _WakeupFd:
    """Python's signal wake-up fd, pointed at the run's notifier while receivers exist."""

    def __init__(self) -> None:
        self.users = 0
        self.previous = -1
        self.sockets: tuple[_stdlib_socket.socket, _stdlib_socket.socket] | None = None
        self.notifier: Reactor | None = None

    def acquire(self) -> None:
        self.users += 1
        if self.users > 1:
            return
        notifier = _state.runner().notifier
        fd = getattr(notifier, "signal_wakeup_fd", lambda: -1)()
        if fd < 0 and isinstance(notifier, Reactor):
            reader, writer = _stdlib_socket.socketpair()
            reader.setblocking(False)
            writer.setblocking(False)
            # Registered (edge-triggered under epoll): each byte ends a wait
            # even though no task parks on it; SignalReceiver._wake drains it.
            notifier.handle_for(reader.fileno())
            self.sockets = (reader, writer)
            self.notifier = notifier
            fd = writer.fileno()
        if fd < 0:
            self.previous = -2  # nothing installed
            return
        self.previous = signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
        if self.previous != -1:
            # Someone else's wake-up fd (another event loop): theirs stays.
            signal.set_wakeup_fd(self.previous)

    def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        if self.previous == -1:
            signal.set_wakeup_fd(-1)
        if self.sockets is not None:
            reader, writer = self.sockets
            if self.notifier is not None:
                self.notifier.notify_closing(reader.fileno())
            reader.close()
            writer.close()
        self.sockets = None
        self.notifier = None

    def drain(self) -> None:
        if self.sockets is None:
            return
        try:
            while self.sockets[0].recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass


_wakeup = _WakeupFd()


def _drain_wakeup_socket() -> None:
    _wakeup.drain()


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
    _wakeup.acquire()
    try:
        for signum in signals:
            previous[int(signum)] = signal.signal(signum, receiver._handler)
        yield receiver
    finally:
        receiver._closed = True
        for signum, handler in previous.items():
            # None: a handler Python did not install; the default is the best guess.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        _wakeup.release()
        receiver._redeliver_pending()
