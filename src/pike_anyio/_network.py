"""anyio's connect/listen/datagram/wrap entry points, on ``pike.socket``."""

from __future__ import annotations

import socket as _stdlib_socket
from typing import Any

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


async def _connected(sock: SocketType, address: Any) -> SocketType:
    try:
        await sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_tcp(host: str, port: int, local_address: Any = None) -> SocketStream:
    family = _stdlib_socket.AF_INET6 if ":" in host else _stdlib_socket.AF_INET
    sock = pike.socket.socket(family)
    try:
        if local_address:
            await sock.bind(local_address)
    except BaseException:
        sock.close()
        raise
    return SocketStream(await _connected(sock, (host, port)))


async def connect_unix(
    path: str | bytes, kind: Any = _stdlib_socket.SOCK_STREAM
) -> UNIXSocketStream:
    # anyio < 4.16 passes no kind: a stream socket was the only one it connected.
    sock = pike.socket.socket(_stdlib_socket.AF_UNIX, kind)
    return UNIXSocketStream(await _connected(sock, path))


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
    sock = pike.socket.socket(family=family, type=_stdlib_socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEPORT, 1)
        if local_address:
            await sock.bind(local_address)
        if remote_address:
            await sock.connect(remote_address)
            return ConnectedUDPSocket(sock)
        return UDPSocket(sock)
    except BaseException:
        sock.close()
        raise


async def create_unix_datagram_socket(
    raw_socket: _stdlib_socket.socket, remote_path: str | bytes | None
) -> UNIXDatagramSocket | ConnectedUNIXDatagramSocket:
    sock = pike.socket.from_stdlib_socket(raw_socket)
    if remote_path:
        await _connected(sock, remote_path)
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
