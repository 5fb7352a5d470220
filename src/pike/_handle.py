"""Per-fd state shared by every reactor notifier.

A handle has one reader slot and one writer slot. A slot is empty or holds the
single task parked until the fd is ready in that direction; a second task trying
to wait in the same direction gets ``BusyResourceError`` rather than silently
stealing the wake-up. Closing (``notify_closing``) wakes both with
``ClosedResourceError``.

Why no NOTIFIED state (the Zig original remembers an edge that arrived while
nobody waited): every pike operation tries its syscall before parking, so a
remembered edge would only ever cause an extra, useless retry. The public
``wait_readable``/``wait_writable`` re-arm the registration instead, which asks
the OS for the fd's *current* readiness and so cannot miss data that is
already there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._kernel._task import Task


class Handle:
    __slots__ = ("fd", "owned", "reader", "writer")

    def __init__(self, fd: int, owned: bool) -> None:
        self.fd = fd
        # Owned handles belong to a pike object (socket, pipe) that stays
        # registered until it closes; others are registered only while waited on.
        self.owned = owned
        self.reader: Task | None = None
        self.writer: Task | None = None

    def __repr__(self) -> str:
        kind = "owned" if self.owned else "transient"
        return f"<pike Handle fd={self.fd} {kind}>"
