"""pike's socket object: a stdlib socket in non-blocking mode, driven by the notifier.

Every async method follows the same shape (trio's rule, the seed's design):

1. ``checkpoint_if_cancelled()``: a cancelled task never starts the syscall;
2. try the syscall on the non-blocking fd;
3. success at once: ``cancel_shielded_checkpoint()`` so the operation still
   yields (a task that always finds data waiting cannot starve the others) but
   cannot lose the data it already has to a cancellation;
4. ``BlockingIOError`` (EAGAIN): park on the fd's handle, then go to 2. The park
   is the checkpoint, so a retry that succeeds returns without another yield.

Nothing is yielded between EAGAIN and parking: that is what makes the
edge-triggered epoll registration safe (EAGAIN proves the fd was not ready, so
its next readiness is a new edge). The fd is registered with the notifier
lazily, at its first EAGAIN: sockets whose calls always succeed (a short
request/response connection, say) never cost an ``epoll_ctl``.

``recv``/``send``/``recv_into``/``recvfrom``/``sendto`` are written out by hand
instead of going through the generic helper, because they are the hot paths:
no closure, no argument tuple, bound methods cached on the object.
"""

from __future__ import annotations

import builtins
import errno
import os
import select
import socket as _stdlib_socket
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from . import _dns
from ._handle import Handle
from ._kernel import _state
from ._kernel._traps import cancel_shielded_checkpoint, checkpoint
from ._lowlevel_io import current_notifier
from ._notifier import Reactor

T = TypeVar("T")
_local = _state.local
Buffer = bytes | bytearray | memoryview
_IP_FAMILIES = (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6)


def _cancel_pending() -> bool:
    """Whether the calling task has a cancellation to deliver.

    Every operation starts with ``if _cancel_pending(): await checkpoint()``: the
    test of ``checkpoint_if_cancelled`` without creating its coroutine, so a call
    that succeeds at once costs a single yield. Outside a pike task (another event
    loop, a plain coroutine driver) it raises a clear RuntimeError up front, before
    any syscall has taken data.
    """
    task = _local.task
    if task is None:
        raise RuntimeError("pike socket operations must be awaited inside a pike task")
    return task._cancel_scope._effective


class SocketType:
    """An async socket with ``trio.socket``'s API. Make one with ``pike.socket.socket``."""

    __slots__ = (
        "__weakref__",
        "_did_shutdown_SHUT_WR",
        "_handle",
        "_last_addr",
        "_last_sockaddr",
        "_notifier",
        "_recv",
        "_recv_into",
        "_recvfrom",
        "_recvfrom_into",
        "_send",
        "_sendto",
        "_sock",
        "_stream",
    )

    def __init__(self, sock: _stdlib_socket.socket) -> None:
        if not isinstance(sock, _stdlib_socket.socket):
            raise TypeError(f"expected a socket.socket, got {type(sock).__name__}")
        if sock.type not in (
            _stdlib_socket.SOCK_STREAM,
            _stdlib_socket.SOCK_DGRAM,
            _stdlib_socket.SOCK_SEQPACKET,
            _stdlib_socket.SOCK_RAW,
        ):
            raise TypeError(f"unsupported socket type {sock.type!r}")
        if sock.gettimeout() != 0.0:
            # (a timeout of 0.0 means the fd is already O_NONBLOCK: no syscall)
            sock.setblocking(False)
        self._sock = sock
        # Only on a byte stream does a short recv prove the receive queue empty.
        self._stream = sock.type == _stdlib_socket.SOCK_STREAM
        self._did_shutdown_SHUT_WR = False
        self._notifier: Reactor | None = None
        self._handle: Handle | None = None
        # The stdlib socket's bound methods, looked up once.
        self._recv = sock.recv
        self._recv_into = sock.recv_into
        self._recvfrom = sock.recvfrom
        self._recvfrom_into = sock.recvfrom_into
        self._send = sock.send
        self._sendto = sock.sendto
        # sendto() resolves its address every call; remember the last one.
        self._last_addr: Any = None
        self._last_sockaddr: Any = None

    # -- plain attributes and synchronous methods ----------------------------------

    @property
    def stdlib_socket(self) -> _stdlib_socket.socket:
        """The stdlib socket this object wraps (read-only), for libraries built on pike.

        It is the same object for the pike socket's whole life and is non-blocking.
        Use it for options and addresses; do not close it or do I/O on it directly:
        close through pike (``close()``), so that blocked tasks are woken and the
        fd's registration is dropped before its number can be reused.
        """
        return self._sock

    @property
    def family(self) -> _stdlib_socket.AddressFamily:
        return self._sock.family

    @property
    def type(self) -> _stdlib_socket.SocketKind:
        return self._sock.type

    @property
    def proto(self) -> int:
        return self._sock.proto

    @property
    def did_shutdown_SHUT_WR(self) -> bool:
        return self._did_shutdown_SHUT_WR

    def fileno(self) -> int:
        return self._sock.fileno()

    def getsockname(self) -> Any:
        return self._sock.getsockname()

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> int | bytes:
        if buflen is None:
            return self._sock.getsockopt(level, optname)
        return self._sock.getsockopt(level, optname, buflen)

    def setsockopt(
        self, level: int, optname: int, value: int | Buffer | None, optlen: int | None = None
    ) -> None:
        if optlen is None:
            if value is None:
                raise TypeError("setsockopt: value None needs an explicit optlen")
            self._sock.setsockopt(level, optname, value)
        else:
            if value is not None:
                raise TypeError("setsockopt: with optlen, value must be None")
            self._sock.setsockopt(level, optname, None, optlen)

    def listen(self, backlog: int = min(_stdlib_socket.SOMAXCONN, 128)) -> None:
        self._sock.listen(backlog)

    def get_inheritable(self) -> bool:
        return self._sock.get_inheritable()

    def set_inheritable(self, inheritable: bool) -> None:
        self._sock.set_inheritable(inheritable)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)
        if how in (_stdlib_socket.SHUT_WR, _stdlib_socket.SHUT_RDWR):
            self._did_shutdown_SHUT_WR = True

    def is_readable(self) -> bool:
        """True if a ``recv`` would not block right now (data, EOF or an error)."""
        fd = self._sock.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, "is_readable() on a closed socket")
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))

    def _forget_fd(self) -> None:
        # Wake tasks blocked on this fd with ClosedResourceError and drop its
        # registration *before* the fd number can be reused.
        fd = self._sock.fileno()
        runner = _state.local.runner
        if fd >= 0 and runner is not None and isinstance(runner.notifier, Reactor):
            runner.notifier.notify_closing(fd)
        self._notifier = self._handle = None

    def close(self) -> None:
        """Close the socket; tasks blocked on it get ``ClosedResourceError``."""
        try:
            self._forget_fd()
        finally:
            # Whatever waking the waiters raised, the fd itself must not be left open.
            self._sock.close()

    def detach(self) -> int:
        """Give up the fd without closing it; this object becomes closed."""
        self._forget_fd()
        return self._sock.detach()

    def dup(self) -> SocketType:
        return SocketType(self._sock.dup())

    def __enter__(self) -> SocketType:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._sock).replace("socket.socket", "pike.socket.socket", 1)

    # -- waiting -----------------------------------------------------------------------

    def _register(self) -> tuple[Reactor, Handle]:
        """The run's notifier, with this fd registered (once per run)."""
        notifier = current_notifier()
        handle = self._handle = notifier.handle_for(self._sock.fileno())
        self._notifier = notifier
        return notifier, handle

    # The two park helpers stay separate (not one with a direction flag): they
    # sit on the recv/send hot paths, where a flag would cost a test per call.
    def _park_readable(self) -> Awaitable[None]:
        notifier, handle, runner = self._notifier, self._handle, _local.runner
        if (notifier is None or handle is None or handle.retired
                or runner is None or notifier is not runner.notifier):
            notifier, handle = self._register()
        return notifier.park_readable(handle)

    def _park_writable(self) -> Awaitable[None]:
        notifier, handle, runner = self._notifier, self._handle, _local.runner
        if (notifier is None or handle is None or handle.retired
                or runner is None or notifier is not runner.notifier):
            notifier, handle = self._register()
        return notifier.park_writable(handle)

    async def wait_writable(self) -> None:
        """Wait until a ``send`` would make progress."""
        await current_notifier().wait_writable(self._sock.fileno())

    async def _io(self, reading: bool, fn: Callable[..., T], *args: Any) -> T:
        """The generic try-then-park loop, for the less frequent operations."""
        if _cancel_pending():
            await checkpoint()
        try:
            result = fn(*args)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return result
        # Parked outside the except clause: no BlockingIOError in tracebacks.
        while True:
            await (self._park_readable() if reading else self._park_writable())
            try:
                return fn(*args)
            except BlockingIOError:
                pass

    # -- addresses ---------------------------------------------------------------------

    async def _resolve(self, address: Any, local: bool) -> Any:
        sock = self._sock
        return await _dns.resolve_address_nocp(
            address, sock.family, sock.type, sock.proto, local=local
        )

    async def bind(self, address: Any) -> None:
        """Bind to ``address``; host names are looked up without blocking the run."""
        if _cancel_pending():
            await checkpoint()
        sockaddr = await self._resolve(address, local=True)
        # An AF_UNIX path touches the file system, but briefly: done inline.
        self._sock.bind(sockaddr)
        await cancel_shielded_checkpoint()

    # -- connecting and accepting -------------------------------------------------------

    async def connect(self, address: Any) -> None:
        """Connect to ``address``.

        Non-blocking connect: start it, wait until the fd is writable, then read
        ``SO_ERROR`` for the result. If the wait is cancelled (or the socket is
        closed meanwhile) the socket is closed, because a half-made connection
        leaves it in a state no other call can use reliably (trio does the same).
        """
        if _cancel_pending():
            await checkpoint()
        sockaddr = await self._resolve(address, local=False)
        sock = self._sock
        try:
            sock.connect(sockaddr)
        except BlockingIOError:
            pass  # EINPROGRESS: the handshake goes on in the kernel
        else:
            await cancel_shielded_checkpoint()
            return
        # Parked outside the except clause: no BlockingIOError in tracebacks.
        try:
            await self._park_writable()
        except BaseException:
            self.close()
            raise
        err = sock.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_ERROR)
        if err:
            raise OSError(err, f"Error connecting to {address!r}: {os.strerror(err)}")

    async def accept(self) -> tuple[SocketType, Any]:
        """Wait for a connection; returns ``(socket, address)`` like the stdlib."""
        if _cancel_pending():
            await checkpoint()
        # The stdlib's accept() on a non-blocking listener returns a socket in
        # default (blocking) mode; SocketType switches it to non-blocking.
        accept = self._sock.accept
        try:
            conn, addr = accept()
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return SocketType(conn), addr
        # Parked outside the except clause: no BlockingIOError in tracebacks.
        while True:
            await self._park_readable()
            try:
                conn, addr = accept()
            except BlockingIOError:
                continue
            return SocketType(conn), addr

    # -- receiving (hot paths written out) --------------------------------------------

    # The hot paths below consult the handle's readiness flags (see pike._handle):
    # once the OS has shown the socket's send buffer full (a partial send), the
    # next send parks at once and the syscall waits for the notifier's next edge.

    async def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if _cancel_pending():
            await checkpoint()
        try:
            data = self._recv(bufsize, flags)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return data
        # Parked outside the except clause: no BlockingIOError in tracebacks.
        while True:
            await self._park_readable()
            try:
                return self._recv(bufsize, flags)
            except BlockingIOError:
                pass

    async def recv_into(self, buffer: Buffer, nbytes: int = 0, flags: int = 0) -> int:
        if _cancel_pending():
            await checkpoint()
        try:
            n = self._recv_into(buffer, nbytes, flags)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return n
        while True:
            await self._park_readable()
            try:
                return self._recv_into(buffer, nbytes, flags)
            except BlockingIOError:
                pass

    async def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        if _cancel_pending():
            await checkpoint()
        try:
            result = self._recvfrom(bufsize, flags)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return result
        # Parked outside the except clause: no BlockingIOError in tracebacks.
        while True:
            await self._park_readable()
            try:
                return self._recvfrom(bufsize, flags)
            except BlockingIOError:
                pass

    async def recvfrom_into(
        self, buffer: Buffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, Any]:
        return await self._io(True, self._recvfrom_into, buffer, nbytes, flags)

    async def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0
    ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
        return await self._io(True, self._sock.recvmsg, bufsize, ancbufsize, flags)

    async def recvmsg_into(
        self, buffers: Iterable[Buffer], ancbufsize: int = 0, flags: int = 0
    ) -> tuple[int, list[tuple[int, int, bytes]], int, Any]:
        return await self._io(True, self._sock.recvmsg_into, list(buffers), ancbufsize, flags)

    # -- sending -------------------------------------------------------------------------

    async def send(self, data: Buffer, flags: int = 0) -> int:
        if _cancel_pending():
            await checkpoint()
        handle = self._handle
        if handle is None or handle.writable:
            try:
                n = self._send(data, flags)
            except BlockingIOError:
                pass
            else:
                if handle is not None and self._stream and n < memoryview(data).nbytes:
                    handle.writable = False
                await cancel_shielded_checkpoint()
                return n
        while True:
            await self._park_writable()
            try:
                n = self._send(data, flags)
            except BlockingIOError:
                continue
            handle = self._handle
            if handle is not None and self._stream and n < memoryview(data).nbytes:
                handle.writable = False
            return n

    async def sendto(self, data: Buffer, *flags_and_address: Any) -> int:
        """``sendto(data, address)`` or ``sendto(data, flags, address)``."""
        if len(flags_and_address) == 1:
            flags = 0
            (address,) = flags_and_address
        elif len(flags_and_address) == 2:
            flags, address = flags_and_address
        else:
            raise TypeError("sendto() takes (data, address) or (data, flags, address)")
        if _cancel_pending():
            await checkpoint()
        if address == self._last_addr and address is not None:
            sockaddr = self._last_sockaddr
        else:
            sockaddr = await self._resolve(address, local=False)
            self._last_addr, self._last_sockaddr = address, sockaddr
        try:
            n = self._sendto(data, flags, sockaddr)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return n
        # Parked outside the except clause: no BlockingIOError in tracebacks.
        while True:
            await self._park_writable()
            try:
                return self._sendto(data, flags, sockaddr)
            except BlockingIOError:
                pass

    async def sendmsg(
        self,
        buffers: Iterable[Buffer],
        ancdata: Iterable[tuple[int, int, Buffer]] = (),
        flags: int = 0,
        address: Any = None,
    ) -> int:
        buffers = list(buffers)
        ancdata = list(ancdata)
        if address is None:
            return await self._io(False, self._sock.sendmsg, buffers, ancdata, flags)
        if _cancel_pending():
            await checkpoint()
        sockaddr = await self._resolve(address, local=False)
        return await self._io(False, self._sock.sendmsg, buffers, ancdata, flags, sockaddr)


# -- constructors -------------------------------------------------------------------------


def from_stdlib_socket(sock: _stdlib_socket.socket) -> SocketType:
    """Wrap an existing stdlib socket (which pike switches to non-blocking mode)."""
    return SocketType(sock)


def socket(
    family: int = _stdlib_socket.AF_INET,
    type: int = _stdlib_socket.SOCK_STREAM,
    proto: int = 0,
    fileno: int | None = None,
) -> SocketType:
    """Create a pike socket, like ``socket.socket`` (``fileno`` adopts an fd)."""
    if fileno is None:
        # SOCK_NONBLOCK: born non-blocking, saving the fcntl that setblocking
        # would otherwise cost (setblocking(False) below is then a no-op).
        sock = _stdlib_socket.socket(family, type | _NONBLOCK, proto)
    else:
        sock = _stdlib_socket.socket(family, type, proto, fileno)
    return SocketType(sock)


_NONBLOCK = getattr(_stdlib_socket, "SOCK_NONBLOCK", 0)


def socketpair(
    family: int | None = None, type: int = _stdlib_socket.SOCK_STREAM, proto: int = 0
) -> tuple[SocketType, SocketType]:
    """A connected pair of pike sockets (AF_UNIX where available)."""
    a, b = _stdlib_socket.socketpair(family, type, proto)
    return SocketType(a), SocketType(b)


def fromfd(fd: int, family: int, type: int, proto: int = 0) -> SocketType:
    """Duplicate ``fd`` and wrap the copy, like ``socket.fromfd``."""
    return SocketType(_stdlib_socket.fromfd(fd, family, type, proto))
