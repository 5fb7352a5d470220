"""``pike.socket`` as a module: the stdlib's constants, and the stdlib socket accessor."""

from __future__ import annotations

import socket as stdlib_socket

import pytest

import pike.socket as psocket

trio_socket = pytest.importorskip("trio.socket")


def test_every_constant_trio_socket_exposes_is_on_pike_socket() -> None:
    expected = {
        name
        for name in dir(trio_socket)
        if name.isupper() and hasattr(stdlib_socket, name)
    }
    missing = sorted(name for name in expected if not hasattr(psocket, name))
    assert missing == []
    assert len(expected) > 100  # the comparison really covered the constants
    for name in expected:
        assert getattr(psocket, name) == getattr(stdlib_socket, name), name


def test_pure_helpers_are_the_stdlib_ones_and_blocking_ones_are_absent() -> None:
    assert psocket.inet_pton is stdlib_socket.inet_pton
    assert psocket.gaierror is stdlib_socket.gaierror
    assert psocket.AddressFamily is stdlib_socket.AddressFamily
    for blocking in ("create_connection", "gethostbyname", "getfqdn", "create_server"):
        assert not hasattr(psocket, blocking), blocking
    # pike's own replacements are not overwritten by the re-exports
    assert psocket.socket.__module__ == "pike._socket"
    assert psocket.getaddrinfo.__module__ == "pike._dns"


def test_stdlib_socket_accessor() -> None:
    raw = stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
    sock = psocket.from_stdlib_socket(raw)
    with sock:
        assert sock.stdlib_socket is raw
        assert raw.getblocking() is False
        with pytest.raises(AttributeError):
            sock.stdlib_socket = raw  # type: ignore[misc]  # read-only on purpose
    assert raw.fileno() == -1  # closing the pike socket closed the stdlib one


@pytest.mark.parametrize(
    "operation",
    ["recv", "recv_into", "recvfrom", "send", "sendto", "accept", "connect", "bind", "recvmsg"],
)
def test_socket_operations_outside_a_task_raise_runtime_error(operation: str) -> None:
    """Driven by a foreign coroutine runner: a clear error before any syscall."""
    a, b = stdlib_socket.socketpair()
    b.send(b"queued")
    with psocket.from_stdlib_socket(a) as sock, b:
        args = {
            "recv": (10,), "recv_into": (bytearray(10),), "recvfrom": (10,), "recvmsg": (10,),
            "send": (b"x",), "sendto": (b"x", None), "accept": (), "connect": ("nowhere",),
            "bind": ("nowhere",),
        }[operation]
        coro = getattr(sock, operation)(*args)
        with pytest.raises(RuntimeError, match="inside a pike task"):
            coro.send(None)
        coro.close()
        if operation.startswith("recv"):
            assert b.fileno() >= 0 and a.recv(10) == b"queued"  # nothing was consumed
