"""Servers: ``open_tcp_listeners``, ``serve_listeners`` and ``serve_tcp``, trio-shaped."""

from __future__ import annotations

import errno
import socket as _stdlib_socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ._dns import getaddrinfo
from ._kernel._nursery import TASK_STATUS_IGNORED, Nursery, TaskStatus, open_nursery
from ._kernel._sleep import sleep
from ._socket import socket
from ._streams import SocketListener, SocketStream, aclose_forcefully

# accept() failing for lack of resources: wait and retry rather than crash the
# server, since finishing handlers will free what is missing.
_CAPACITY_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EMFILE", "ENFILE", "ENOMEM", "ENOBUFS")
    if hasattr(errno, name)
)
_CAPACITY_SLEEP = 0.1
# The kernel clamps this to net.core.somaxconn; asking for the most is right.
_MAX_BACKLOG = 0xFFFF


def _backlog(backlog: int | None) -> int:
    if backlog is None:
        return _MAX_BACKLOG
    if not isinstance(backlog, int):
        raise TypeError(f"backlog must be an int or None, not {type(backlog).__name__}")
    if backlog < 1:
        raise ValueError(f"backlog must be >= 1, not {backlog}")
    return min(backlog, _MAX_BACKLOG)


async def open_tcp_listeners(
    port: int, *, host: str | bytes | None = None, backlog: int | None = None
) -> list[SocketListener]:
    """Listen on ``port`` on every address of ``host`` (all interfaces if None).

    One listener per address family; IPv6 listeners set ``IPV6_V6ONLY`` so the
    IPv4 one can share the port. With ``port=0`` each listener gets its own
    ephemeral port.
    """
    if not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if host is not None and not isinstance(host, (str, bytes)):
        raise TypeError(f"host must be str, bytes or None, not {type(host).__name__}")
    backlog = _backlog(backlog)
    targets = await getaddrinfo(
        host, port, type=_stdlib_socket.SOCK_STREAM, flags=_stdlib_socket.AI_PASSIVE
    )
    listeners: list[SocketListener] = []
    unusable: list[OSError] = []
    try:
        for family, type_, proto, _, sockaddr in targets:
            try:
                listeners.append(await _listen_on(family, type_, proto, sockaddr, backlog))
            except OSError as exc:
                if exc.errno != errno.EAFNOSUPPORT:
                    raise
                unusable.append(exc)  # e.g. IPv6 compiled in but disabled
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    if listeners:
        return listeners
    cause = ExceptionGroup("unusable address families", unusable) if unusable else None
    raise OSError(errno.EAFNOSUPPORT, f"no usable address family for {host!r}") from cause


async def _listen_on(
    family: int, type_: int, proto: int, sockaddr: Any, backlog: int
) -> SocketListener:
    """One listening socket at ``sockaddr``; on any failure its fd is closed again."""
    sock = socket(family, type_, proto)
    try:
        # Restarting a server must not wait out TIME_WAIT on the port (POSIX
        # only: on Windows SO_REUSEADDR would let another process steal it).
        if sys.platform != "win32":
            sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEADDR, 1)
        if family == _stdlib_socket.AF_INET6:
            # The IPv4 listener owns the v4 side of the port.
            sock.setsockopt(_stdlib_socket.IPPROTO_IPV6, _stdlib_socket.IPV6_V6ONLY, 1)
        await sock.bind(sockaddr)
        sock.listen(backlog)
        return SocketListener(sock)
    except BaseException:
        sock.close()
        raise


Handler = Callable[[SocketStream], Awaitable[object]]


async def _accept_patiently(listener: SocketListener) -> SocketStream:
    """The listener's next connection, waiting out a shortage of fds or memory.

    Handlers that finish free what accept() lacked, so a shortage is a reason
    to pause the accept loop, not to take the whole server down.
    """
    while True:
        try:
            return await listener.accept()
        except OSError as exc:
            if exc.errno not in _CAPACITY_ERRNOS:
                raise
        await sleep(_CAPACITY_SLEEP)


class _Service:
    """One ``serve_listeners`` call: the handler, and the nursery its runs go in."""

    __slots__ = ("handler", "handlers")

    def __init__(self, handler: Handler, handlers: Nursery) -> None:
        self.handler = handler
        self.handlers = handlers

    async def accept_forever(self, listener: SocketListener) -> None:
        async with listener:  # serving stops (cancelled or failed): the listener closes
            while True:
                stream = await _accept_patiently(listener)
                self.handlers.start_soon(self.converse, stream)

    async def converse(self, stream: SocketStream) -> None:
        """Run the handler on one connection; the stream never outlives it."""
        try:
            await self.handler(stream)
        finally:
            await aclose_forcefully(stream)


async def serve_listeners(
    handler: Handler,
    listeners: list[SocketListener],
    *,
    handler_nursery: Nursery | None = None,
    task_status: TaskStatus[Any] = TASK_STATUS_IGNORED,
) -> None:
    """Accept on every listener forever, running ``handler(stream)`` per connection.

    Each stream is closed when its handler returns. Handler errors propagate
    (and so stop the server), as in trio: catch them in the handler if one
    bad connection must not end the service. ``task_status.started`` reports
    the listeners once every accept loop is scheduled.
    """
    if not callable(handler):
        raise TypeError(f"handler must be an async callable, not {type(handler).__name__}")
    async with open_nursery() as acceptors:
        service = _Service(handler, acceptors if handler_nursery is None else handler_nursery)
        for listener in listeners:
            acceptors.start_soon(service.accept_forever, listener)
        task_status.started(listeners)


async def serve_tcp(
    handler: Handler,
    port: int,
    *,
    host: str | bytes | None = None,
    backlog: int | None = None,
    handler_nursery: Nursery | None = None,
    task_status: TaskStatus[Any] = TASK_STATUS_IGNORED,
) -> None:
    """``open_tcp_listeners`` + ``serve_listeners``; ``nursery.start`` gets the listeners."""
    listeners = await open_tcp_listeners(port, host=host, backlog=backlog)
    await serve_listeners(
        handler, listeners, handler_nursery=handler_nursery, task_status=task_status
    )
