"""Edge-triggered epoll, the Linux notifier.

Each fd is added once with EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET and stays
registered until its owner closes it, so a blocking operation costs no
``epoll_ctl`` at all: the operation tries its syscall, and only on EAGAIN parks
on the handle. Edge-triggering is safe because of that order: EAGAIN proves the
fd was not ready, so the next readiness is a new edge that epoll will report.

Foreign fds (``wait_readable`` on a socket pike did not create) are registered
only while someone waits on them, since pike cannot know when their owner
closes them. Waking from other threads goes through an eventfd.
"""

from __future__ import annotations

import errno
import math
import os
import select

from .._handle import Handle
from .._kernel._exceptions import BusyResourceError
from ._base import Reactor, drain_pipe
from ._waits import park_reader, park_writer

_MASK = select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET
_READ_EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_WRITE_EVENTS = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
# epoll_wait takes an int of milliseconds; beyond this we simply wake and re-check.
_MAX_TIMEOUT = 86400.0


class EpollNotifier(Reactor):
    name = "epoll"

    def __init__(self) -> None:
        super().__init__()
        self._epoll = select.epoll()
        try:
            self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except BaseException:
            self._epoll.close()  # EMFILE after the epoll fd: give it back now, not at GC
            raise
        self._epoll.register(self._wake_fd, select.EPOLLIN | select.EPOLLET)
        self._signal_pipe: tuple[int, int] | None = None

    def wait(self, timeout: float) -> int:
        if timeout > _MAX_TIMEOUT:
            timeout = _MAX_TIMEOUT if timeout != math.inf else -1
        elif timeout < 0:
            timeout = 0
        events = self._epoll.poll(timeout)
        if not events:
            return 0
        handles = self._handles
        runner = self._runner
        assert runner is not None
        reschedule = runner.reschedule
        for fd, mask in events:
            handle = handles.get(fd)
            if handle is None:
                if fd == self._wake_fd:
                    self._drain_wake_fd()
                elif self._signal_pipe is not None and fd == self._signal_pipe[0]:
                    drain_pipe(fd)
                continue
            if handle.deliver(mask & _READ_EVENTS, mask & _WRITE_EVENTS, reschedule):
                self._forget(handle)
        return len(events)

    def _drain_wake_fd(self) -> None:
        try:
            os.eventfd_read(self._wake_fd)
        except BlockingIOError:
            pass

    def signal_wakeup_fd(self) -> int:
        # A pipe, not the eventfd: the C signal handler writes single bytes,
        # and an eventfd accepts only 8-byte writes.
        if self._signal_pipe is None:
            self._signal_pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self._epoll.register(self._signal_pipe[0], select.EPOLLIN | select.EPOLLET)
        return self._signal_pipe[1]

    def wake(self) -> None:
        try:
            os.eventfd_write(self._wake_fd, 1)
        except (BlockingIOError, OSError):
            # Counter saturated (a wake-up is pending anyway) or closed at shutdown.
            pass

    def close(self) -> None:
        self._handles.clear()
        self._epoll.close()
        os.close(self._wake_fd)
        if self._signal_pipe is not None:
            os.close(self._signal_pipe[0])
            os.close(self._signal_pipe[1])

    # -- registration -------------------------------------------------------------

    def handle_for(self, fd: int) -> Handle:
        handle = self._live_handle(fd)
        if handle is None:
            handle = self._new_handle(fd, owned=True)
        handle.owned = True
        return handle

    def _live_handle(self, fd: int) -> Handle | None:
        """The handle of ``fd``, re-armed, or None if there is none that is still valid.

        EPOLL_CTL_MOD doubles as a liveness check. epoll forgets a registration
        when its file is closed; if the owner closed the fd behind pike's back and
        the number now names another file, MOD fails with ENOENT. The old handle
        is then stale: its waiters (parked on a file that no longer exists) get
        ClosedResourceError, and the caller registers the new file afresh.
        """
        handle = self._handles.get(fd)
        if handle is None:
            return None
        try:
            self._epoll.modify(fd, _MASK)
        except FileNotFoundError:
            self.notify_closing(fd)
            return None
        return handle

    def _new_handle(self, fd: int, owned: bool) -> Handle:
        try:
            self._epoll.register(fd, _MASK)
        except FileExistsError:
            # epoll still holds this (fd, file) pair without a handle (one was
            # dropped while its file stayed open): re-arm it instead.
            self._epoll.modify(fd, _MASK)
        handle = self._handles[fd] = Handle(fd, owned)
        return handle

    def _forget(self, handle: Handle) -> None:
        if self._handles.get(handle.fd) is not handle:
            # Already forgotten, and the fd may now belong to a newer handle
            # whose registration must stay.
            return
        del self._handles[handle.fd]
        handle.retired = True
        self._unregister(handle.fd)

    def _unregister(self, fd: int) -> None:
        try:
            self._epoll.unregister(fd)
        except OSError as exc:
            # Already closed by its owner (EBADF), or never added (ENOENT).
            if exc.errno not in (errno.EBADF, errno.ENOENT):
                raise

    def _arm(self, fd: int) -> Handle:
        """Handle for a public wait, (re-)armed so epoll reports current readiness.

        EPOLL_CTL_MOD makes an edge-triggered registration report the fd's
        present state again, just as ADD does for a new one: data that arrived
        before this call (whose edge was already consumed) is not missed.
        """
        handle = self._live_handle(fd)
        return handle if handle is not None else self._new_handle(fd, owned=False)

    # -- waiting ------------------------------------------------------------------

    park_readable = staticmethod(park_reader)
    park_writable = staticmethod(park_writer)

    async def _public_wait(self, fd: int, reading: bool) -> None:
        # Arm first: a stale handle left by a closed-and-reused fd number is
        # replaced there, so its old waiter cannot make this wait look busy.
        handle = self._arm(fd)
        if handle.reader if reading else handle.writer:
            raise BusyResourceError(
                f"another task is already waiting for fd {fd} to become "
                + ("readable" if reading else "writable")
            )
        try:
            # Parking is the checkpoint: a pending cancellation aborts it at once.
            if reading:
                await park_reader(handle)
            else:
                await park_writer(handle)
        finally:
            if not handle.owned and handle.reader is None and handle.writer is None:
                self._forget(handle)

    def _drop_registration(self, fd: int, handle: Handle | None) -> None:
        # No handle, no registration: a socket whose calls never hit EAGAIN
        # closes without an epoll_ctl.
        if handle is not None:
            self._unregister(fd)
