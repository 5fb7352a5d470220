"""IPv6 failure paths close every socket they made (issue 9, defect 4).

A full anyio run on pike once reported an unclosed, unbound AF_INET6 datagram
socket. Each path below that makes an AF_INET6 socket and then fails (bind on a
taken port, an address of the wrong family, a refused connect, cancellation) is
run with ResourceWarning recorded and a forced collection afterwards: a socket
left for the garbage collector shows up as a warning, and fds are counted too.
"""

from __future__ import annotations

import gc
import socket
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import anyio
import pytest
from _io_support import FdLeakCheck, Runner, run

import pike

__all__ = ["run"]  # the fixture, imported for pytest


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no ::1 loopback to bind to")


@contextmanager
def no_socket_left_behind() -> Iterator[None]:
    with FdLeakCheck(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []


@contextmanager
def taken_udp_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as occupant:
        occupant.bind(("::1", 0))
        yield occupant.getsockname()[1]


def _failing_anyio_calls(port: int) -> list[Callable[[], Awaitable[Any]]]:
    v6: Literal[socket.AddressFamily.AF_INET6] = socket.AddressFamily.AF_INET6
    return [
        lambda: anyio.create_udp_socket(family=v6, local_host="::1", local_port=port),
        lambda: anyio.create_udp_socket(
            family=v6, local_host="::1", local_port=port, reuse_port=True
        ),
        lambda: anyio.create_connected_udp_socket(
            "::1", 9, family=v6, local_host="::1", local_port=port
        ),
        lambda: anyio.create_connected_udp_socket("127.0.0.1", 9, family=v6),
        lambda: anyio.connect_tcp("::1", port),  # nothing listens on TCP there
    ]


def test_anyio_ipv6_failures_on_pike_close_their_sockets() -> None:
    failures: list[str] = []

    async def main() -> None:
        with taken_udp_port() as port:
            for call in _failing_anyio_calls(port):
                with pytest.raises(OSError) as info:
                    await call()
                failures.append(type(info.value).__name__)
            with anyio.move_on_after(0):  # cancelled as it starts
                await anyio.create_connected_udp_socket("::1", 9, family=socket.AF_INET6)

    with no_socket_left_behind():
        anyio.run(main, backend="pike")
    assert len(failures) == 5


def test_pike_ipv6_failures_close_their_sockets(run: Runner) -> None:
    async def main() -> None:
        with taken_udp_port() as port:
            sock = pike.socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            with sock, pytest.raises(OSError):
                await sock.bind(("::1", port))
            with pytest.raises(OSError):
                await pike.open_tcp_stream("::1", port)
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
            listener.bind(("::1", 0))
            listener.listen()
            with pytest.raises(OSError):
                await pike.open_tcp_listeners(listener.getsockname()[1], host="::1")

    with no_socket_left_behind():
        run(main)
