"""The interface between the run loop and an OS notification facility.

The kernel only ever calls ``attach``, ``wait``, ``wake`` and ``close``: it
never sees fds or handles. Readiness-based notifiers (epoll, kqueue, poll) also
implement the ``Reactor`` methods that pike's sockets and ``wait_readable`` use;
a completion-based one (IOCP, io_uring) would instead offer its own submission
methods to its own socket module. Either way the kernel stays untouched.
"""

from __future__ import annotations

import abc
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._handle import Handle
    from .._kernel._runner import Runner


class Notifier(abc.ABC):
    """What the run loop needs: block until something happens, and be woken."""

    name: str = "?"

    @abc.abstractmethod
    def attach(self, runner: Runner) -> None:
        """Bind to the run whose tasks this notifier will wake."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> int:
        """Block up to ``timeout`` seconds (0: poll; inf: until woken).

        Reschedules the tasks whose operations became ready and returns how many
        OS events were seen (0 means the timeout elapsed quietly).
        """

    @abc.abstractmethod
    def wake(self) -> None:
        """Make a concurrent or upcoming ``wait`` return soon. Thread-safe."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release OS resources; called once, after the run."""

    def signal_wakeup_fd(self) -> int:
        """An fd for ``signal.set_wakeup_fd`` whose bytes end a wait, or -1.

        Python runs signal handlers between bytecodes, so a signal landing just
        before the notifier blocks would wait for the next event; the C-level
        handler's byte on this fd ends the wait instead.
        """
        return -1


class Reactor(Notifier):
    """A readiness notifier: tasks park on an fd's handle until it is ready.

    Every reactor keeps its handles by fd and the run it wakes; closing an fd
    means the same thing for all of them (``notify_closing``), only dropping
    the OS registration differs.
    """

    def __init__(self) -> None:
        self._handles: dict[int, Handle] = {}
        self._runner: Runner | None = None

    def attach(self, runner: Runner) -> None:
        self._runner = runner

    @abc.abstractmethod
    def handle_for(self, fd: int) -> Handle:
        """Register ``fd`` for the lifetime of its owner; returns its handle."""

    @abc.abstractmethod
    async def park_readable(self, handle: Handle) -> None:
        """Park until the fd *becomes* readable; call only after EAGAIN."""

    @abc.abstractmethod
    async def park_writable(self, handle: Handle) -> None:
        """Park until the fd *becomes* writable; call only after EAGAIN."""

    async def wait_readable(self, fd: object) -> None:
        """Public wait: return when ``fd`` (an int or has ``fileno()``) is readable."""
        await self._public_wait(fileno_of(fd), reading=True)

    async def wait_writable(self, fd: object) -> None:
        """Public wait: return when ``fd`` (an int or has ``fileno()``) is writable."""
        await self._public_wait(fileno_of(fd), reading=False)

    @abc.abstractmethod
    async def _public_wait(self, fd: int, reading: bool) -> None:
        """Park until ``fd`` is ready in one direction, whether or not it already is."""

    def notify_closing(self, fd: object) -> None:
        """``fd`` is about to close: wake its waiters with ClosedResourceError and
        forget it. Must be called *before* the fd is closed."""
        fd = fileno_of(fd)
        handle = self._handles.pop(fd, None)
        if handle is not None:
            # Waiters first: they are woken even if the OS refuses the unregister.
            assert self._runner is not None  # a handle exists only once a run is attached
            handle.retire(self._runner)
        self._drop_registration(fd, handle)

    @abc.abstractmethod
    def _drop_registration(self, fd: int, handle: Handle | None) -> None:
        """Remove ``fd`` from the OS interest set (``handle``: its popped handle, if any)."""


def fileno_of(obj: Any) -> int:
    """Accept an int fd or anything with ``fileno()``, as trio does."""
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            fd = obj.fileno()
        except AttributeError:
            raise TypeError(f"expected an fd or an object with fileno(), got {obj!r}") from None
        if not isinstance(fd, int):
            raise TypeError(f"fileno() returned {fd!r}, not an int")
    if fd < 0:
        raise ValueError(f"invalid file descriptor {fd}")
    return fd


def drain_pipe(fd: int) -> None:
    """Empty a non-blocking wake-up pipe, so the next byte is a new event."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
