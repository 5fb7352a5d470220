"""Level-triggered ``poll(2)``, the portable fallback notifier (``select`` where poll is missing).

Unlike epoll, the interest set is rebuilt from the waiters: an fd is in it only
while a task is parked on it, in the directions that task waits for. That is
required, not just tidy: poll is level-triggered, so an fd left in the set
while readable but unwatched would make every ``wait`` return at once.

Parking marks the fd *dirty*; before each poll the dirty fds' interest is
recomputed from their handles' reader/writer slots. An fd that reports ready
is marked dirty too, so a woken waiter's interest is dropped unless it parks
again. With ``select.poll`` those updates are dict operations inside the poll
object, not syscalls; the pollfd array is built per call, which is what makes
poll O(watched fds) per wait and why epoll is preferred where it exists.

Operations still try the syscall first and park only after EAGAIN, so the
socket code is the same for every notifier. Other threads wake a blocked
``wait`` through a self-pipe.
"""

from __future__ import annotations

import math
import os
import select

from .._handle import Handle
from .._kernel._traps import Abort, RaiseCancelT
from ._base import Reactor, drain_pipe
from ._waits import park_reader, park_writer

_POLLIN = getattr(select, "POLLIN", 0x001)
_POLLOUT = getattr(select, "POLLOUT", 0x004)
_POLLERR = getattr(select, "POLLERR", 0x008)
_POLLHUP = getattr(select, "POLLHUP", 0x010)
_POLLNVAL = getattr(select, "POLLNVAL", 0x020)
_POLLRDHUP = getattr(select, "POLLRDHUP", 0)
_READ_EVENTS = _POLLIN | _POLLRDHUP | _POLLERR | _POLLHUP | _POLLNVAL
_WRITE_EVENTS = _POLLOUT | _POLLERR | _POLLHUP | _POLLNVAL
_MAX_TIMEOUT_MS = 86400.0 * 1000


class _PollHandle(Handle):
    """A handle whose cancelled wait marks its fd dirty, so poll drops the interest."""

    __slots__ = ("_dirty",)

    def __init__(self, fd: int, owned: bool, dirty: set[int]) -> None:
        super().__init__(fd, owned)
        self._dirty = dirty

    def _abort_read(self, raise_cancel: RaiseCancelT) -> Abort:
        self._dirty.add(self.fd)
        return super()._abort_read(raise_cancel)

    def _abort_write(self, raise_cancel: RaiseCancelT) -> Abort:
        self._dirty.add(self.fd)
        return super()._abort_write(raise_cancel)


class _SelectPoller:
    """``select.poll``'s interface on top of ``select.select``.

    For platforms without poll. ``select`` fails as a whole with EBADF if any fd
    was closed behind pike's back; then each fd is checked and the bad ones
    are reported as POLLNVAL, the way poll would.
    """

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def register(self, fd: int, mask: int) -> None:
        self._fds[fd] = mask

    modify = register

    def unregister(self, fd: int) -> None:
        del self._fds[fd]

    def poll(self, timeout_ms: float | None) -> list[tuple[int, int]]:
        rlist = [fd for fd, mask in self._fds.items() if mask & _POLLIN]
        wlist = [fd for fd, mask in self._fds.items() if mask & _POLLOUT]
        timeout = None if timeout_ms is None else timeout_ms / 1000
        try:
            r, w, x = select.select(rlist, wlist, rlist + wlist, timeout)
        except (OSError, ValueError):
            bad = []
            for fd in self._fds:
                try:
                    os.fstat(fd)
                except OSError:
                    bad.append((fd, _POLLNVAL))
            if not bad:
                raise
            return bad
        events: dict[int, int] = {}
        for fd in r:
            events[fd] = _POLLIN
        for fd in w:
            events[fd] = events.get(fd, 0) | _POLLOUT
        for fd in x:
            events[fd] = events.get(fd, 0) | _POLLERR
        return list(events.items())


class PollNotifier(Reactor):
    name = "poll"

    def __init__(self, *, use_select: bool = False) -> None:
        """``use_select=True`` forces the ``select.select`` fallback (for tests)."""
        super().__init__()
        if use_select or not hasattr(select, "poll"):
            self._poller: _SelectPoller | select.poll = _SelectPoller()
            self.name = "poll(select)"
        else:
            self._poller = select.poll()
        # fd -> events currently registered with the poller.
        self._registered: dict[int, int] = {}
        self._dirty: set[int] = set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, _POLLIN)

    # -- the run loop's side ----------------------------------------------------------

    def _flush(self) -> None:
        """Bring the poller's interest set in line with who is waiting now."""
        handles = self._handles
        registered = self._registered
        poller = self._poller
        for fd in self._dirty:
            handle = handles.get(fd)
            want = 0
            if handle is not None:
                if handle.reader is not None:
                    want |= _POLLIN
                if handle.writer is not None:
                    want |= _POLLOUT
            have = registered.get(fd, 0)
            if want == have:
                continue
            if want:
                if have:
                    poller.modify(fd, want)
                else:
                    poller.register(fd, want)
                registered[fd] = want
            else:
                del registered[fd]
                try:
                    poller.unregister(fd)
                except KeyError:
                    pass
        self._dirty.clear()

    def wait(self, timeout: float) -> int:
        if self._dirty:
            self._flush()
        if timeout == math.inf:
            timeout_ms: float | None = None
        else:
            timeout_ms = min(max(timeout, 0.0) * 1000, _MAX_TIMEOUT_MS)
        events = self._poller.poll(timeout_ms)
        if not events:
            return 0
        handles = self._handles
        runner = self._runner
        assert runner is not None
        reschedule = runner.reschedule
        dirty = self._dirty
        for fd, mask in events:
            if fd == self._wake_r:
                drain_pipe(fd)
                continue
            dirty.add(fd)
            handle = handles.get(fd)
            if handle is None:
                continue
            unused = handle.deliver(mask & _READ_EVENTS, mask & _WRITE_EVENTS, reschedule)
            if mask & _POLLNVAL:
                # Closed without notify_closing: drop the handle so the fd
                # number can be reused cleanly, and mark it so that an owner
                # holding it asks for a new one.
                del handles[fd]
                handle.retired = True
            elif unused:
                del handles[fd]
        return len(events)

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            # Pipe full (a wake-up is pending anyway) or closed at shutdown.
            pass

    def signal_wakeup_fd(self) -> int:
        """An fd for ``signal.set_wakeup_fd``: a byte written to it ends a wait."""
        return self._wake_w

    def close(self) -> None:
        self._handles.clear()
        self._registered.clear()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- registration -----------------------------------------------------------------

    def handle_for(self, fd: int) -> Handle:
        # Nothing to register yet: interest is added while a task waits.
        handle = self._handles.get(fd)
        if handle is None:
            handle = self._handles[fd] = _PollHandle(fd, True, self._dirty)
        else:
            handle.owned = True
        return handle

    def _drop_registration(self, fd: int, handle: Handle | None) -> None:
        # Even without a handle: one dropped on POLLNVAL leaves its interest
        # registered until the next flush.
        if fd in self._registered:
            del self._registered[fd]
            try:
                self._poller.unregister(fd)
            except KeyError:
                pass
        self._dirty.discard(fd)

    # -- waiting ----------------------------------------------------------------------

    # Parking is the shared slot logic (_waits); poll only marks the fd dirty so the
    # next wait adds its interest, and its handles' aborts mark it again to drop it.

    async def park_readable(self, handle: Handle) -> None:
        self._dirty.add(handle.fd)
        await park_reader(handle)

    async def park_writable(self, handle: Handle) -> None:
        self._dirty.add(handle.fd)
        await park_writer(handle)

    async def _public_wait(self, fd: int, reading: bool) -> None:
        # Level-triggered: parking registers interest in the fd's current
        # state, so data that is already there wakes the task at once.
        handle = self._handles.get(fd)
        if handle is None:
            handle = self._handles[fd] = _PollHandle(fd, False, self._dirty)
        try:
            if reading:
                await self.park_readable(handle)
            else:
                await self.park_writable(handle)
        finally:
            if (
                not handle.owned
                and handle.reader is None
                and handle.writer is None
                and self._handles.get(fd) is handle
            ):
                del self._handles[fd]
                self._dirty.add(fd)
