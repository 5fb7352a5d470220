"""anyio's socket streams, listeners and datagram sockets over pike sockets.

The byte streams *are* ``pike.SocketStream``s (anyio's abstract class as a
second base), so ``receive``/``send`` are one call into pike's own hot path;
what this module adds is anyio's vocabulary: ``EndOfStream`` instead of
``b""``, anyio's exception classes instead of pike's, and ``_raw_socket`` for
anyio's typed attributes. Exceptions are translated in ``except`` clauses,
which cost nothing until something fails.
"""

from __future__ import annotations

import array
import os
import socket as _stdlib_socket
from collections.abc import Collection
from io import IOBase
from typing import Any, NoReturn, Self

from anyio import BrokenResourceError, BusyResourceError, ClosedResourceError, EndOfStream
from anyio._core._sockets import convert_ipv6_sockaddr
from anyio._core._synchronization import ResourceGuard
from anyio.abc import (
    ConnectedUDPSocket as _AbstractConnectedUDPSocket,
)
from anyio.abc import (
    ConnectedUNIXDatagramSocket as _AbstractConnectedUNIXDatagramSocket,
)
from anyio.abc import SocketListener as _AbstractSocketListener
from anyio.abc import SocketStream as _AbstractSocketStream
from anyio.abc import UDPSocket as _AbstractUDPSocket
from anyio.abc import UNIXDatagramSocket as _AbstractUNIXDatagramSocket
from anyio.abc import UNIXSocketStream as _AbstractUNIXSocketStream

import pike
import pike.socket
from pike.lowlevel import checkpoint
from pike.socket import SocketType

_RECEIVE_SIZE = 65536
_BAD_MAX_BYTES = "max_bytes must be a positive integer"  # anyio's wording


def _raw(sock: SocketType) -> _stdlib_socket.socket:
    # anyio's typed attributes hand out the stdlib socket itself.
    return sock.stdlib_socket


def _reraise(exc: BaseException, sock: SocketType, action: str) -> NoReturn:
    """Raise anyio's counterpart of an error from a pike socket operation."""
    if isinstance(exc, pike.ClosedResourceError) or (
        isinstance(exc, OSError) and sock.fileno() < 0
    ):
        raise ClosedResourceError from exc.__cause__
    if isinstance(exc, pike.BusyResourceError):
        raise BusyResourceError(action) from None
    if isinstance(exc, pike.BrokenResourceError):
        raise BrokenResourceError from exc.__cause__
    if isinstance(exc, OSError):
        raise BrokenResourceError from exc
    raise exc


_FD_SIZE = array.array("i").itemsize


def _passed_fds(
    message: bytes, ancdata: list[tuple[int, int, bytes]], flags: int, maxfds: int
) -> list[int]:
    """The descriptors in ``recvmsg``'s control messages, or a clear error.

    The kernel installs every descriptor it delivers, so on any error the ones
    that did arrive are closed here before raising: a failed ``receive_fds``
    leaks nothing. Errors, all ``RuntimeError`` (anyio's type for bad ancillary
    data): a control message other than ``SCM_RIGHTS``; a payload that is not
    a whole number of descriptors; ``MSG_CTRUNC``, meaning the peer sent more
    than ``maxfds`` and the kernel discarded the rest (other backends return
    the first ``maxfds`` silently, and the caller never learns some were lost).
    """
    fds: list[int] = []
    problem = ""
    for level, kind, data in ancdata:
        if level != _stdlib_socket.SOL_SOCKET or kind != _stdlib_socket.SCM_RIGHTS:
            # anyio's wording, which its tests match
            problem = (
                f"Received unexpected ancillary data; message = {message!r}, "
                f"cmsg_level = {level}, cmsg_type = {kind}"
            )
            continue
        whole = len(data) - len(data) % _FD_SIZE
        fds.extend(array.array("i", data[:whole]))
        if whole != len(data) and not flags & _stdlib_socket.MSG_CTRUNC:
            problem = f"malformed SCM_RIGHTS message: {len(data)} bytes is not a whole fd count"
    if flags & _stdlib_socket.MSG_CTRUNC and not problem:
        problem = (
            f"ancillary data truncated: the peer sent more than maxfds={maxfds} "
            "file descriptors (or other control data), and the kernel discarded what did not fit"
        )
    if problem:
        for fd in fds:
            os.close(fd)
        raise RuntimeError(problem)
    return fds


# -- byte streams -----------------------------------------------------------------


class SocketStream(pike.SocketStream, _AbstractSocketStream):
    """A connected stream socket; anyio's ``receive``/``send`` on pike's stream."""

    __slots__ = ()

    async def __aenter__(self) -> Self:
        # pike's returns ``pike.SocketStream``; anyio's contract is the subclass.
        return self

    async def receive(self, max_bytes: int = _RECEIVE_SIZE) -> bytes:
        try:
            data = await self.receive_some(max_bytes)
        except (pike.ClosedResourceError, pike.BusyResourceError,
                pike.BrokenResourceError, OSError) as exc:
            _reraise(exc, self.socket, "reading from")
        except ValueError:
            raise ValueError(_BAD_MAX_BYTES) from None
        if data:
            return data
        raise EndOfStream

    async def send(self, item: bytes) -> None:
        try:
            await self.send_all(item)
        except (pike.ClosedResourceError, pike.BusyResourceError,
                pike.BrokenResourceError, OSError) as exc:
            _reraise(exc, self.socket, "writing to")

    async def send_eof(self) -> None:
        try:
            await pike.SocketStream.send_eof(self)
        except (pike.ClosedResourceError, pike.BusyResourceError,
                pike.BrokenResourceError, OSError) as exc:
            _reraise(exc, self.socket, "writing to")

    @property
    def _raw_socket(self) -> _stdlib_socket.socket:
        return _raw(self.socket)


class UNIXSocketStream(SocketStream, _AbstractUNIXSocketStream):
    """A UNIX stream socket, which can also pass file descriptors."""

    __slots__ = ()

    async def receive_fds(self, msglen: int, maxfds: int) -> tuple[bytes, list[int]]:
        """Up to ``msglen`` bytes and up to ``maxfds`` descriptors passed with them.

        The parsing of the control messages lives in ``_passed_fds``; this
        method only sizes the buffer and translates errors.
        """
        if not isinstance(msglen, int) or msglen < 0:
            raise ValueError("msglen must be a non-negative integer")
        if not isinstance(maxfds, int) or maxfds < 1:
            raise ValueError("maxfds must be a positive integer")
        sock = self.socket
        try:
            message, ancdata, flags, _addr = await sock.recvmsg(
                msglen, _stdlib_socket.CMSG_LEN(maxfds * _FD_SIZE)
            )
        except (pike.ClosedResourceError, OSError) as exc:
            _reraise(exc, sock, "reading from")
        if not message and not ancdata:
            raise EndOfStream
        return message, _passed_fds(message, ancdata, flags, maxfds)

    async def send_fds(self, message: bytes, fds: Collection[int | IOBase]) -> None:
        if not message:
            raise ValueError("message must not be empty")
        if not fds:
            raise ValueError("fds must not be empty")
        numbers = array.array("i", [fd if isinstance(fd, int) else fd.fileno() for fd in fds])
        ancdata = [(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SCM_RIGHTS, numbers.tobytes())]
        view = memoryview(message)
        sock = self.socket
        while view:
            try:
                sent = await sock.sendmsg([view], ancdata)
            except (pike.ClosedResourceError, OSError) as exc:
                _reraise(exc, sock, "writing to")
            view = view[sent:]
            ancdata = []  # the descriptors went with the first bytes


# -- listeners --------------------------------------------------------------------


class _Listener(_AbstractSocketListener):
    def __init__(self, raw_socket: _stdlib_socket.socket) -> None:
        self._socket = pike.socket.from_stdlib_socket(raw_socket)
        self._raw = raw_socket
        self._closed = False
        self._guard = ResourceGuard("accepting connections from")

    @property
    def _raw_socket(self) -> _stdlib_socket.socket:
        return self._raw

    async def _accept_socket(self) -> SocketType:
        with self._guard:
            try:
                sock, _addr = await self._socket.accept()
            except (pike.ClosedResourceError, OSError) as exc:
                if self._closed or self._socket.fileno() < 0:
                    raise ClosedResourceError from None
                _reraise(exc, self._socket, "accepting connections from")
        return sock

    async def aclose(self) -> None:
        self._closed = True
        self._socket.close()
        await checkpoint()


class TCPSocketListener(_Listener):
    async def accept(self) -> SocketStream:
        return SocketStream(await self._accept_socket())


class UNIXSocketListener(_Listener):
    async def accept(self) -> UNIXSocketStream:
        return UNIXSocketStream(await self._accept_socket())


# -- datagram sockets ---------------------------------------------------------------


class _Datagram:
    """Shared plumbing: a pike socket, guards, close and error translation."""

    def __init__(self, sock: SocketType) -> None:
        self._socket = sock
        self._closed = False
        self._receive_guard = ResourceGuard("reading from")
        self._send_guard = ResourceGuard("writing to")

    @property
    def _raw_socket(self) -> _stdlib_socket.socket:
        return _raw(self._socket)

    def _fail(self, exc: BaseException, action: str) -> NoReturn:
        if self._closed:
            raise ClosedResourceError from None
        _reraise(exc, self._socket, action)

    async def aclose(self) -> None:
        self._closed = True
        self._socket.close()
        await checkpoint()

    async def _recvfrom(self) -> tuple[bytes, Any]:
        with self._receive_guard:
            try:
                return await self._socket.recvfrom(_RECEIVE_SIZE)
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "reading from")

    async def _recv(self) -> bytes:
        with self._receive_guard:
            try:
                return await self._socket.recv(_RECEIVE_SIZE)
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "reading from")

    async def _sendto(self, data: bytes, address: Any) -> None:
        with self._send_guard:
            try:
                await self._socket.sendto(data, address)
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "writing to")

    async def _send(self, data: bytes) -> None:
        with self._send_guard:
            try:
                await self._socket.send(data)
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "writing to")


class UDPSocket(_Datagram, _AbstractUDPSocket):
    # The three methods below spell out _recvfrom/_sendto instead of calling them:
    # one coroutine frame less per datagram, a measurable share of a UDP round trip.

    async def receive(self) -> tuple[bytes, tuple[str, int]]:
        with self._receive_guard:
            try:
                data, addr = await self._socket.recvfrom(_RECEIVE_SIZE)
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "reading from")
        # An IPv4 address is a (host, port) pair already; only IPv6's 4-tuples change.
        return data, addr if len(addr) == 2 else convert_ipv6_sockaddr(addr)

    async def send(self, item: tuple[bytes, tuple[str, int]]) -> None:
        data, address = item
        with self._send_guard:
            try:
                await self._socket.sendto(data, address)
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "writing to")

    async def sendto(self, data: bytes, host: str, port: int) -> None:
        # anyio's alias packs (data, (host, port)) and calls send(): same steps, inlined.
        with self._send_guard:
            try:
                await self._socket.sendto(data, (host, port))
            except (pike.ClosedResourceError, OSError) as exc:
                self._fail(exc, "writing to")


class ConnectedUDPSocket(_Datagram, _AbstractConnectedUDPSocket):
    async def receive(self) -> bytes:
        return await self._recv()

    async def send(self, item: bytes) -> None:
        await self._send(item)


class UNIXDatagramSocket(_Datagram, _AbstractUNIXDatagramSocket):
    async def receive(self) -> tuple[bytes, str]:
        data, addr = await self._recvfrom()
        return data, addr

    async def send(self, item: tuple[bytes, str]) -> None:
        await self._sendto(*item)


class ConnectedUNIXDatagramSocket(_Datagram, _AbstractConnectedUNIXDatagramSocket):
    async def receive(self) -> bytes:
        return await self._recv()

    async def send(self, item: bytes) -> None:
        await self._send(item)


__all__ = [
    "ConnectedUDPSocket",
    "ConnectedUNIXDatagramSocket",
    "SocketStream",
    "TCPSocketListener",
    "UDPSocket",
    "UNIXDatagramSocket",
    "UNIXSocketListener",
    "UNIXSocketStream",
]
