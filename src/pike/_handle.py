"""Per-fd state shared by every reactor notifier.

A handle has one reader slot and one writer slot. A slot is empty or holds the
single task parked until the fd is ready in that direction; a second task trying
to wait in the same direction gets ``BusyResourceError`` rather than silently
stealing the wake-up. Closing (``notify_closing``) wakes both with
``ClosedResourceError``.

The ``readable``/``writable`` flags are the Zig original's NOTIFIED state,
turned around: the notifier sets them on every readiness report, and an
operation clears them when the OS proves the fd drained: EAGAIN, a partial
``send`` on a stream, or a short, non-empty ``recv`` on a TCP socket while
``short_read_drains`` holds. While a flag is clear the next operation parks
straight away instead of paying for a syscall that would fail: under
edge-triggering the fd's next readiness is a new edge, which sets the flag and
wakes the parked task.

A short read proves an empty queue only on TCP, and only until EOF, an error
or urgent data has been reported (each leaves the socket readable with no
further edge to come, or stops reads early): the notifier turns
``short_read_drains`` off for good on any of those. Unix stream sockets never
qualify (a read also stops at passed fds and credentials). The public
``wait_readable``/``wait_writable`` re-arm the registration instead, which asks
the OS for the fd's *current* readiness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._kernel._traps import Abort, AbortFn, RaiseCancelT

if TYPE_CHECKING:
    from ._kernel._task import Task


class Handle:
    __slots__ = (
        "abort_read",
        "abort_write",
        "fd",
        "owned",
        "readable",
        "reader",
        "short_read_drains",
        "writable",
        "writer",
    )

    def __init__(self, fd: int, owned: bool) -> None:
        self.fd = fd
        # Owned handles belong to a pike object (socket, pipe) that stays
        # registered until it closes; others are registered only while waited on.
        self.owned = owned
        self.reader: Task | None = None
        self.writer: Task | None = None
        self.readable = True
        self.writable = True
        self.short_read_drains = True
        # Bound once, so parking allocates no closure.
        self.abort_read: AbortFn = self._abort_read
        self.abort_write: AbortFn = self._abort_write

    def _abort_read(self, raise_cancel: RaiseCancelT) -> Abort:
        self.reader = None
        return Abort.SUCCEEDED

    def _abort_write(self, raise_cancel: RaiseCancelT) -> Abort:
        self.writer = None
        return Abort.SUCCEEDED

    def __repr__(self) -> str:
        kind = "owned" if self.owned else "transient"
        return f"<pike Handle fd={self.fd} {kind}>"
