"""anyio's connect/listen/datagram/wrap entry points, on ``pike.socket``."""

from __future__ import annotations

import socket as _stdlib_socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pike
import pike.socket
from pike.socket import SocketType

from ._sockets import (
    ConnectedUDPSocket,
    ConnectedUNIXDatagramSocket,
    SocketStream,
    TCPSocketListener,
    UDPSocket,
    UNIXDatagramSocket,
    UNIXSocketListener,
    UNIXSocketStream,
)

getaddrinfo = pike.socket.getaddrinfo


async def getnameinfo(sockaddr: Any, flags: int = 0) -> tuple[str, str]:
    return await pike.socket.getnameinfo(sockaddr, flags)


_PORT_RANGE = range(65536)


def _check_port(address: Any, action: str) -> None:
    """Refuse an IP socket address whose port is outside 0-65535.

    pike's ``bind``/``connect`` resolve addresses through ``getaddrinfo``, and
    the C resolver wraps an out-of-range port silently (70000 becomes 4464), so
    the error the stdlib socket raises for it has to be raised here. Same type
    and wording as ``socket.bind``, which is what anyio's other backends raise.
    """
    if address is None:
        return
    port = address[1]
    if isinstance(port, int) and port not in _PORT_RANGE:
        raise OverflowError(f"{action}(): port must be 0-65535.")


@contextmanager
def _closed_on_failure(sock: SocketType) -> Iterator[SocketType]:
    """Hand ``sock`` to the block; close it if the block does not complete.

    Every constructor below creates a socket and then awaits (bind, connect):
    a cancellation or an OS error there must not leak the descriptor.
    """
    try:
        yield sock
    except BaseException:
        sock.close()
        raise


async def connect_tcp(
    host: str, port: int, local_address: tuple[str, int] | None = None
) -> SocketStream:
    """One TCP connection to an address anyio has already resolved.

    anyio resolves the name and races the addresses (happy eyeballs) itself and
    calls this once per address, so this is pike's own ``open_tcp_stream`` with
    one target: it parses the numeric host without a worker thread, binds the
    local host with the port left to ``connect`` and closes the socket on
    failure. anyio only ever asks for a local host (the port is 0); a fixed
    local port is refused rather than silently ignored.
    """
    _check_port((host, port), "connect")
    local_host: str | None = None
    if local_address is not None:
        local_host, local_port = local_address[:2]
        if local_port != 0:
            raise ValueError("pike's connect_tcp binds a local host only; local port must be 0")
    stream = await pike.open_tcp_stream(
        host, port, happy_eyeballs_delay=None, local_address=local_host
    )
    return SocketStream(stream.socket)


async def connect_unix(
    path: str | bytes, kind: Any = _stdlib_socket.SOCK_STREAM
) -> UNIXSocketStream:
    # anyio < 4.16 passes no kind: a stream socket was the only one it connected.
    with _closed_on_failure(pike.socket.socket(_stdlib_socket.AF_UNIX, kind)) as sock:
        await sock.connect(path)
    return UNIXSocketStream(sock)


def create_tcp_listener(sock: _stdlib_socket.socket) -> TCPSocketListener:
    return TCPSocketListener(sock)


def create_unix_listener(sock: _stdlib_socket.socket) -> UNIXSocketListener:
    return UNIXSocketListener(sock)


async def create_udp_socket(
    family: _stdlib_socket.AddressFamily,
    local_address: Any,
    remote_address: Any,
    reuse_port: bool,
) -> UDPSocket | ConnectedUDPSocket:
    """A UDP socket on addresses anyio has resolved; connected iff there is a remote.

    Both ports are checked before any socket exists, so a bad one costs no
    descriptor and reports the stdlib's ``OverflowError``.
    """
    _check_port(local_address, "bind")
    _check_port(remote_address, "connect")
    raw = pike.socket.socket(family=family, type=_stdlib_socket.SOCK_DGRAM)
    with _closed_on_failure(raw) as sock:
        if reuse_port:
            sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEPORT, 1)
        if local_address is not None:
            await sock.bind(local_address)
        if remote_address is not None:
            await sock.connect(remote_address)
    if remote_address is None:
        return UDPSocket(sock)
    return ConnectedUDPSocket(sock)


async def create_unix_datagram_socket(
    raw_socket: _stdlib_socket.socket, remote_path: str | bytes | None
) -> UNIXDatagramSocket | ConnectedUNIXDatagramSocket:
    with _closed_on_failure(pike.socket.from_stdlib_socket(raw_socket)) as sock:
        if remote_path:
            await sock.connect(remote_path)
    if remote_path:
        return ConnectedUNIXDatagramSocket(sock)
    return UNIXDatagramSocket(sock)


# -- wrapping sockets the caller already has -------------------------------------------


async def wrap_listener_socket(
    sock: _stdlib_socket.socket,
) -> TCPSocketListener | UNIXSocketListener:
    if sock.family == _stdlib_socket.AF_UNIX:
        return UNIXSocketListener(sock)
    return TCPSocketListener(sock)


async def wrap_stream_socket(sock: _stdlib_socket.socket) -> SocketStream:
    return SocketStream(pike.socket.from_stdlib_socket(sock))


async def wrap_unix_stream_socket(sock: _stdlib_socket.socket) -> UNIXSocketStream:
    return UNIXSocketStream(pike.socket.from_stdlib_socket(sock))


async def wrap_udp_socket(sock: _stdlib_socket.socket) -> UDPSocket:
    return UDPSocket(pike.socket.from_stdlib_socket(sock))


async def wrap_connected_udp_socket(sock: _stdlib_socket.socket) -> ConnectedUDPSocket:
    return ConnectedUDPSocket(pike.socket.from_stdlib_socket(sock))


async def wrap_unix_datagram_socket(sock: _stdlib_socket.socket) -> UNIXDatagramSocket:
    return UNIXDatagramSocket(pike.socket.from_stdlib_socket(sock))


async def wrap_connected_unix_datagram_socket(
    sock: _stdlib_socket.socket,
) -> ConnectedUNIXDatagramSocket:
    return ConnectedUNIXDatagramSocket(pike.socket.from_stdlib_socket(sock))
