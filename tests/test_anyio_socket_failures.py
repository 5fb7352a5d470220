"""pike_anyio closes the sockets it made when creating an endpoint fails.

Issue 9 (defect 4) traced a ``ResourceWarning: unclosed <socket ... AF_INET6,
SOCK_DGRAM, laddr=('::', 0, 0, 0)>`` in anyio's suite to anyio's own test
fixture (``sock_or_fd_factory`` binds a socket to "localhost" and leaks it when
that name has no IPv6 address; trio shows the same warning). These tests pin
down that pike's side has no such path: every failing bind or connect closes
the socket it created.
"""

from __future__ import annotations

import gc
import socket
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
import pytest


def _occupied_port(family: socket.AddressFamily, kind: socket.SocketKind) -> tuple[Any, int]:
    sock = socket.socket(family, kind)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def _no_unclosed_socket(attempt: Callable[[], Awaitable[Any]]) -> None:
    async def main() -> None:
        with pytest.raises(OSError):
            await attempt()

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        anyio.run(main, backend="pike")
        gc.collect()  # an unclosed socket would warn (and so raise) here


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_udp_bind_failure_closes_the_socket(
    family: Literal[socket.AddressFamily.AF_INET, socket.AddressFamily.AF_INET6],
) -> None:
    if family == socket.AF_INET6 and not socket.has_ipv6:
        pytest.skip("Python built without IPv6")
    busy, port = _occupied_port(family, socket.SOCK_DGRAM)
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with busy:
        _no_unclosed_socket(lambda: anyio.create_udp_socket(
            family=family, local_host=host, local_port=port))


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_tcp_connect_failure_closes_the_socket(family: socket.AddressFamily) -> None:
    closed, port = _occupied_port(family, socket.SOCK_STREAM)
    closed.close()  # nothing listens there now: the connection is refused
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    _no_unclosed_socket(lambda: anyio.connect_tcp(host, port))
