"""``FdStream``: an async byte stream over a pipe (or tty, FIFO) fd.

It owns the fd, switches it to non-blocking mode and drives it with the same
try-then-park loop as pike's sockets (see ``_socket.py``): ``os.read`` /
``os.write`` first, park on the fd's handle only after EAGAIN. Subprocess pipes
are built on it.
"""

from __future__ import annotations

import os

from ._handle import Handle
from ._kernel import _state
from ._kernel._exceptions import BrokenResourceError
from ._kernel._traps import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled
from ._lowlevel_io import current_notifier
from ._notifier import Reactor
from ._receive_size import receive_size
from ._stream_errors import busy, closed

Buffer = bytes | bytearray | memoryview


class FdStream:
    """Send and receive bytes on ``fd``, which this object now owns and will close."""

    __slots__ = ("_fd", "_handle", "_notifier", "_receiving", "_sending")

    def __init__(self, fd: int) -> None:
        if not isinstance(fd, int):
            raise TypeError(f"fd must be an int, not {type(fd).__name__}")
        os.set_blocking(fd, False)
        self._fd = fd
        self._notifier: Reactor | None = None
        self._handle: Handle | None = None
        self._sending = False
        self._receiving = False

    def fileno(self) -> int:
        return self._fd

    def _reactor_and_handle(self) -> tuple[Reactor, Handle]:
        """Registered lazily at the first EAGAIN, once per run (as sockets are)."""
        if self._fd < 0:
            raise closed()
        notifier = current_notifier()
        handle = self._handle
        if notifier is not self._notifier or handle is None or handle.retired:
            handle = self._handle = notifier.handle_for(self._fd)
            self._notifier = notifier
        return notifier, handle

    async def send_all(self, data: Buffer) -> None:
        if self._sending:
            raise busy("sending")
        self._sending = True
        try:
            await checkpoint_if_cancelled()
            view = memoryview(data).cast("B")
            parked = False
            # Checked once: a close() while parked wakes the park with the same error,
            # and nothing else can close the fd between two writes of this loop.
            if self._fd < 0:
                raise closed()
            while view:
                try:
                    n = os.write(self._fd, view)
                except BlockingIOError:
                    n = -1
                except OSError as exc:  # EPIPE: the reader is gone
                    raise BrokenResourceError(f"cannot send: {exc}") from exc
                if n < 0:
                    notifier, handle = self._reactor_and_handle()
                    await notifier.park_writable(handle)
                    parked = True
                else:
                    view = view[n:]
            if not parked:
                await cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._sending:
            raise busy("sending")
        self._sending = True
        try:
            if self._fd < 0:
                raise closed()
            await current_notifier().wait_writable(self._fd)
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (64 KiB by default); ``b""`` at EOF."""
        max_bytes = receive_size(max_bytes)
        if self._receiving:
            raise busy("receiving")
        self._receiving = True
        try:
            await checkpoint_if_cancelled()
            parked = False
            while True:
                if self._fd < 0:
                    raise closed()
                try:
                    data = os.read(self._fd, max_bytes)
                    break
                except BlockingIOError:
                    pass
                except OSError as exc:  # EIO from a tty whose other side closed, say
                    raise BrokenResourceError(f"cannot receive: {exc}") from exc
                notifier, handle = self._reactor_and_handle()
                await notifier.park_readable(handle)
                parked = True
            if not parked:
                await cancel_shielded_checkpoint()
            return data
        finally:
            self._receiving = False

    def close(self) -> None:
        """Close the fd now; tasks blocked on it get ``ClosedResourceError``."""
        fd = self._fd
        if fd < 0:
            return
        self._fd = -1
        runner = _state.local.runner
        if runner is not None and isinstance(runner.notifier, Reactor):
            runner.notifier.notify_closing(fd)
        self._notifier = self._handle = None
        os.close(fd)

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    async def __aenter__(self) -> FdStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<pike.lowlevel.FdStream fd={self._fd}>"
