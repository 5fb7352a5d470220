"""anyio's connect/listen/datagram/wrap entry points, on ``pike.socket``."""

from __future__ import annotations

import ipaddress
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


def _ip_family(host: str) -> _stdlib_socket.AddressFamily:
    """The family of an IP literal; anyio resolves names before calling the backend."""
    try:
        version = ipaddress.ip_address(host.split("%", 1)[0]).version
    except ValueError:
        raise ValueError(f"connect_tcp needs an IP address, not {host!r}") from None
    return _stdlib_socket.AF_INET6 if version == 6 else _stdlib_socket.AF_INET


def _defer_port_choice(sock: SocketType) -> None:
    """Let ``connect`` pick the ephemeral port of a socket bound to port 0.

    Without this (Linux's ``IP_BIND_ADDRESS_NO_PORT``) ``bind`` reserves a port
    for the local address alone, and many clients bound to one local host run
    out of ports long before they run out of (local, remote) pairs.
    """
    option = getattr(_stdlib_socket, "IP_BIND_ADDRESS_NO_PORT", None)
    if option is not None:
        try:
            sock.setsockopt(_stdlib_socket.IPPROTO_IP, option, 1)
        except OSError:
            pass  # an old kernel: bind picks the port, as everywhere else


async def connect_tcp(
    host: str, port: int, local_address: tuple[str, int] | None = None
) -> SocketStream:
    """One TCP connection to an address anyio has already resolved.

    anyio resolves the name and races the addresses (happy eyeballs) itself,
    calling this once per address; pike's part is a checked address, a socket
    closed on any failure or cancellation, and a late choice of the local port.
    """
    family = _ip_family(host)
    _check_port((host, port), "connect")
    _check_port(local_address, "bind")
    with _closed_on_failure(pike.socket.socket(family)) as sock:
        if local_address is not None:
            if local_address[1] == 0:
                _defer_port_choice(sock)
            await sock.bind(local_address)
        await sock.connect((host, port))
    return SocketStream(sock)


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
