"""``SocketStream`` and ``SocketListener``: trio's stream interface over pike sockets.

A stream turns the socket's OS errors into the three errors a stream user
cares about: ``ClosedResourceError`` (this side closed it), ``BrokenResourceError``
(the other side or the network broke it) and ``BusyResourceError`` (two tasks
sending, or two receiving, at once — their bytes would interleave).

``send_all`` and ``receive_some`` call the stdlib socket directly rather than
``SocketType.send``/``recv``: the stream is the layer anyio and servers use per
message, so it gets its own copy of the try-then-park loop and one coroutine
frame less per call.
"""

from __future__ import annotations

import errno
import socket as _stdlib_socket
from typing import Any

from ._kernel._cancel import CancelScope
from ._kernel._exceptions import BrokenResourceError, ClosedResourceError
from ._kernel._traps import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled
from ._receive_size import receive_size
from ._socket import Buffer, SocketType
from ._stream_errors import busy, closed

# accept() errors that concern only the one connection being accepted.
_IGNORED_ACCEPT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNABORTED", "EPROTO", "ENOPROTOOPT", "EPERM")
    if hasattr(errno, name)
)


def _translate(exc: OSError, sock: SocketType, action: str) -> Exception:
    """The stream-level error for an OSError from the socket."""
    if sock.fileno() == -1:
        return closed(action)
    if sock.did_shutdown_SHUT_WR and action == "send":
        # EPIPE after our own send_eof: the caller closed this direction.
        return ClosedResourceError("cannot send: send_eof() was called on this stream")
    return BrokenResourceError(f"cannot {action}: {exc}")


def _listener_error(exc: OSError, sock: SocketType) -> Exception:
    """What an accept() failure means to the listener's user."""
    if sock.fileno() == -1 or exc.errno in (errno.EBADF, errno.ENOTSOCK):
        return ClosedResourceError("this listener was closed")
    return exc


# SOCK_SEQPACKET (Unix sockets) keeps message boundaries but is connection-based,
# which is all a stream needs; anyio offers it through connect_unix.
_STREAM_TYPES = (_stdlib_socket.SOCK_STREAM, _stdlib_socket.SOCK_SEQPACKET)

def _stream_socket(socket: object, owner: str) -> SocketType:
    """``socket`` if it is a connection-based pike socket, else the error saying why not."""
    if not isinstance(socket, SocketType):
        raise TypeError(f"{owner} needs a pike socket, got {type(socket).__name__}")
    if socket.type not in _STREAM_TYPES:
        raise ValueError(f"{owner} needs a SOCK_STREAM or SOCK_SEQPACKET socket")
    return socket


_SO_ACCEPTCONN: int | None = getattr(_stdlib_socket, "SO_ACCEPTCONN", None)


def _known_not_listening(sock: SocketType) -> bool:
    """True only when the OS itself reports that ``sock`` is not listening.

    Where the OS cannot answer (no ``SO_ACCEPTCONN``, or the query fails) the
    socket gets the benefit of the doubt: a wrong guess then shows up at the
    first ``accept`` as an OSError, which is still a clear failure.
    """
    if _SO_ACCEPTCONN is None:
        return False
    try:
        return not sock.getsockopt(_stdlib_socket.SOL_SOCKET, _SO_ACCEPTCONN)
    except OSError:
        return False


class SocketStream:
    """A bidirectional stream over a connected SOCK_STREAM (or SOCK_SEQPACKET) socket.

    TCP sockets get ``TCP_NODELAY``: a stream hands whole messages to
    ``send_all``, so Nagle's delay would only add latency.
    """

    __slots__ = ("_receiving", "_recv", "_send", "_sending", "socket")

    def __init__(self, socket: SocketType) -> None:
        self.socket = _stream_socket(socket, "SocketStream")
        self._recv = socket._sock.recv
        self._send = socket._sock.send
        self._sending = False
        self._receiving = False
        if socket.family in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
            try:
                socket.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP after all (SCTP, say): harmless

    async def send_all(self, data: Buffer) -> None:
        """Send every byte of ``data``; returns once the OS has taken them all.

        If it is cancelled part-way, an unknown prefix was sent and the stream
        should be considered broken (the same contract as trio).
        """
        if self._sending:
            raise busy("sending")
        self._sending = True
        try:
            await checkpoint_if_cancelled()
            send = self._send
            parked = False
            remaining: Buffer = data
            if type(data) is not bytes and type(data) is not bytearray:
                # len() of a memoryview counts items, not bytes: go to bytes.
                remaining = memoryview(data).cast("B")
            while True:
                try:
                    n = send(remaining)
                except BlockingIOError:
                    n = -1
                except OSError as exc:
                    raise _translate(exc, self.socket, "send") from exc
                if n == -1:
                    # Parked outside the except clause: no BlockingIOError in tracebacks.
                    await self.socket._park_writable()
                    parked = True
                elif n == len(remaining):
                    break
                else:
                    # A partial send: slice without copying from here on.
                    remaining = memoryview(remaining)[n:]
            if not parked:
                await cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._sending:
            raise busy("sending")
        self._sending = True
        try:
            if self.socket.fileno() == -1:
                raise closed()
            await self.socket.wait_writable()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        """Shut down the sending direction; the peer then reads EOF."""
        if self._sending:
            raise busy("sending")
        self._sending = True
        try:
            await checkpoint()
            sock = self.socket
            if sock.fileno() == -1:
                raise closed()
            if sock.did_shutdown_SHUT_WR:
                return
            try:
                sock.shutdown(_stdlib_socket.SHUT_WR)
            except OSError as exc:
                raise _translate(exc, sock, "send EOF") from exc
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (64 KiB by default); ``b""`` means EOF."""
        max_bytes = receive_size(max_bytes)
        if self._receiving:
            raise busy("receiving")
        self._receiving = True
        try:
            await checkpoint_if_cancelled()
            recv = self._recv
            try:
                return_now = True
                data = recv(max_bytes)
            except BlockingIOError:
                return_now = False
            except OSError as exc:
                raise _translate(exc, self.socket, "receive") from exc
            if return_now:
                await cancel_shielded_checkpoint()
                return data
            # Parked outside the except clause: no BlockingIOError in tracebacks.
            while True:
                await self.socket._park_readable()
                try:
                    return recv(max_bytes)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise _translate(exc, self.socket, "receive") from exc
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        """Close the socket (at once, even if cancelled), then checkpoint."""
        self.socket.close()
        await checkpoint()

    def setsockopt(
        self, level: int, option: int, value: int | Buffer | None, length: int | None = None
    ) -> None:
        self.socket.setsockopt(level, option, value, length)

    def getsockopt(self, level: int, option: int, buffersize: int = 0) -> int | bytes:
        if buffersize == 0:
            return self.socket.getsockopt(level, option)
        return self.socket.getsockopt(level, option, buffersize)

    async def __aenter__(self) -> SocketStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<pike.SocketStream {self.socket!r}>"


class SocketListener:
    """Accepts connections on a listening SOCK_STREAM socket as ``SocketStream``s."""

    __slots__ = ("socket",)

    def __init__(self, socket: SocketType) -> None:
        sock = _stream_socket(socket, "SocketListener")
        if _known_not_listening(sock):
            raise ValueError("SocketListener needs a listening socket: call listen() first")
        self.socket = sock

    async def accept(self) -> SocketStream:
        """Wait for the next connection.

        A connection that fails between the peer's SYN and our accept (aborted,
        refused by a firewall hook) is the peer's problem, not the listener's:
        it is dropped and the wait goes on.
        """
        sock = self.socket
        while True:
            try:
                conn, _ = await sock.accept()
            except OSError as exc:
                if exc.errno not in _IGNORED_ACCEPT_ERRNOS:
                    raise _listener_error(exc, sock) from None
            else:
                return SocketStream(conn)

    async def aclose(self) -> None:
        self.socket.close()
        await checkpoint()

    async def __aenter__(self) -> SocketListener:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<pike.SocketListener {self.socket!r}>"


async def aclose_forcefully(resource: Any) -> None:
    """Close ``resource`` without waiting for anything (its aclose is cancelled)."""
    with CancelScope() as scope:
        scope.cancel()
        await resource.aclose()
