"""pike.socket: every operation and its errors, on every notifier."""

from __future__ import annotations

import errno
import os
import socket as stdlib_socket
import struct
import sys
import time

import pytest
from _io_support import FdLeakCheck, Runner, open_fds, run

import pike
import pike.socket as psocket

__all__ = ["run"]  # the fixture, imported for pytest


def _ipv6_unavailable() -> str | None:
    if not stdlib_socket.has_ipv6:
        return "Python was built without IPv6"
    try:
        with stdlib_socket.socket(stdlib_socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError as exc:
        return f"cannot bind to ::1 on this machine: {exc}"
    return None


async def tcp_pair(
    family: int = psocket.AF_INET, host: str = "127.0.0.1"
) -> tuple[psocket.SocketType, psocket.SocketType]:
    """A connected (client, server-side) TCP pair."""
    with psocket.socket(family) as listener:
        await listener.bind((host, 0))
        listener.listen()
        client = psocket.socket(family)
        await client.connect(listener.getsockname())
        server, _ = await listener.accept()
    return client, server


async def full_backlog_listener() -> tuple[psocket.SocketType, list[stdlib_socket.socket]]:
    """A listener whose accept queue is full: connects to it hang (SYNs dropped)."""
    listener = psocket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):
        s = stdlib_socket.socket()
        s.setblocking(False)
        try:
            s.connect(listener.getsockname())
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.05)  # let the handshakes that can complete complete
    return listener, fillers


# -- basics ------------------------------------------------------------------------


def test_socketpair_send_recv_and_eof(run: Runner) -> None:
    async def main() -> None:
        a, b = psocket.socketpair()
        with a, b:
            assert await a.send(b"hello") == 5
            assert await b.recv(100) == b"hello"
            buf = bytearray(10)
            await b.send(b"xyz")
            assert await a.recv_into(buf) == 3
            assert buf[:3] == b"xyz"
            a.shutdown(psocket.SHUT_WR)
            assert a.did_shutdown_SHUT_WR
            assert await b.recv(10) == b""  # EOF

    with FdLeakCheck():
        run(main)


def test_tcp_echo_and_attributes(run: Runner) -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        with client, server:
            assert client.family == psocket.AF_INET
            assert client.type == psocket.SOCK_STREAM
            assert client.proto in (0, psocket.IPPROTO_TCP)
            assert client.getpeername() == server.getsockname()
            assert isinstance(client.fileno(), int)
            assert "pike.socket.socket" in repr(client)
            client.setsockopt(psocket.IPPROTO_TCP, psocket.TCP_NODELAY, 1)
            assert client.getsockopt(psocket.IPPROTO_TCP, psocket.TCP_NODELAY)
            assert not server.is_readable()
            await client.send(b"ping")
            await pike.sleep(0.01)
            assert server.is_readable()
            assert await server.recv(10) == b"ping"
            await client.wait_writable()

    with FdLeakCheck():
        run(main)


def test_ipv6_loopback(run: Runner) -> None:
    reason = _ipv6_unavailable()
    if reason:
        pytest.skip(reason)

    async def main() -> None:
        client, server = await tcp_pair(psocket.AF_INET6, "::1")
        with client, server:
            assert client.getpeername()[0] == "::1"
            await server.send(b"six")
            assert await client.recv(10) == b"six"
        with psocket.socket(psocket.AF_INET6, psocket.SOCK_DGRAM) as u1, psocket.socket(
            psocket.AF_INET6, psocket.SOCK_DGRAM
        ) as u2:
            await u1.bind(("::1", 0))
            await u2.sendto(b"dgram6", u1.getsockname())
            data, addr = await u1.recvfrom(100)
            assert data == b"dgram6"
            assert addr[0] == "::1"

    with FdLeakCheck():
        run(main)


def test_bind_and_connect_resolve_hostnames(run: Runner) -> None:
    async def main() -> None:
        with psocket.socket() as listener:
            await listener.bind(("localhost", 0))
            listener.listen()
            port = listener.getsockname()[1]
            with psocket.socket() as client:
                await client.connect(("localhost", port))
                server, addr = await listener.accept()
                server.close()
                assert addr == client.getsockname()

    run(main)


def test_udp_sendto_recvfrom(run: Runner) -> None:
    async def main() -> None:
        with psocket.socket(type=psocket.SOCK_DGRAM) as a, psocket.socket(
            type=psocket.SOCK_DGRAM
        ) as b:
            await a.bind(("127.0.0.1", 0))
            await b.bind(("127.0.0.1", 0))
            for i in range(3):  # the cached address is reused
                assert await b.sendto(b"m%d" % i, a.getsockname()) == 2
            for i in range(3):
                data, addr = await a.recvfrom(100)
                assert (data, addr) == (b"m%d" % i, b.getsockname())
            await b.sendto(b"flags", 0, ("localhost", a.getsockname()[1]))
            buf = bytearray(10)
            n, addr = await a.recvfrom_into(buf)
            assert bytes(buf[:n]) == b"flags"
            await b.sendmsg([b"ab", b"cd"], [], 0, a.getsockname())
            data, _anc, _flags, addr = await a.recvmsg(100)
            assert data == b"abcd"
            await b.connect(a.getsockname())
            await b.send(b"connected")
            assert await a.recv(100) == b"connected"
            with pytest.raises(TypeError):
                await b.sendto(b"x")

    with FdLeakCheck():
        run(main)


def test_unix_stream_and_datagram(run: Runner, tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "s")
    dpath = os.path.join(str(tmp_path), "d")

    async def main() -> None:
        with psocket.socket(psocket.AF_UNIX) as listener:
            await listener.bind(path)
            listener.listen()
            with psocket.socket(psocket.AF_UNIX) as client:
                await client.connect(path)
                server, _ = await listener.accept()
                with server:
                    await client.send(b"unix")
                    assert await server.recv(10) == b"unix"
        with psocket.socket(psocket.AF_UNIX, psocket.SOCK_DGRAM) as d1, psocket.socket(
            psocket.AF_UNIX, psocket.SOCK_DGRAM
        ) as d2:
            await d1.bind(dpath)
            await d2.sendto(b"dg", dpath)
            assert await d1.recv(10) == b"dg"

    with FdLeakCheck():
        run(main)


def test_sendmsg_recvmsg_pass_fds(run: Runner) -> None:
    async def main() -> None:
        a, b = psocket.socketpair()
        r, w = os.pipe()
        with a, b:
            fds = struct.pack("i", r)
            await a.sendmsg([b"fd"], [(psocket.SOL_SOCKET, psocket.SCM_RIGHTS, fds)])
            msg, anc, _, _ = await b.recvmsg(10, psocket.CMSG_SPACE(4))
            assert msg == b"fd"
            (level, kind, data), = anc
            assert (level, kind) == (psocket.SOL_SOCKET, psocket.SCM_RIGHTS)
            received = struct.unpack("i", data[:4])[0]
            os.write(w, b"through")
            assert os.read(received, 10) == b"through"
            os.close(received)
            bufs = [bytearray(2), bytearray(2)]
            await a.sendmsg([b"wxyz"])
            n, _, _, _ = await b.recvmsg_into(bufs)
            assert n == 4 and bufs == [b"wx", b"yz"]
        os.close(r)
        os.close(w)

    with FdLeakCheck():
        run(main)


def test_constructors(run: Runner) -> None:
    async def main() -> None:
        raw = stdlib_socket.socket()
        sock = psocket.from_stdlib_socket(raw)
        assert raw.gettimeout() == 0.0
        dup = psocket.fromfd(sock.fileno(), psocket.AF_INET, psocket.SOCK_STREAM)
        assert dup.fileno() != sock.fileno()
        fd = dup.detach()
        adopted = psocket.socket(psocket.AF_INET, psocket.SOCK_STREAM, 0, fd)
        assert adopted.fileno() == fd
        d = adopted.dup()
        for s in (sock, adopted, d):
            s.close()
        with pytest.raises(TypeError):
            psocket.SocketType(object())  # type: ignore[arg-type]  # wrong on purpose
        with psocket.socket() as s:
            with pytest.raises(ValueError):
                await s.recv(-1)
            with pytest.raises(ValueError):
                await s.bind("not a tuple")
        assert psocket.inet_aton("1.2.3.4") == b"\x01\x02\x03\x04"
        assert psocket.SO_REUSEADDR == stdlib_socket.SO_REUSEADDR
        assert not hasattr(psocket, "create_connection")

    with FdLeakCheck():
        run(main)


def test_getaddrinfo_getnameinfo(run: Runner) -> None:
    async def main() -> None:
        infos = await psocket.getaddrinfo("127.0.0.1", 80, type=psocket.SOCK_STREAM)
        assert infos[0][4] == ("127.0.0.1", 80)
        infos = await psocket.getaddrinfo("localhost", "80", psocket.AF_INET)
        assert ("127.0.0.1", 80) in [i[4] for i in infos]
        host, port = await psocket.getnameinfo(
            ("127.0.0.1", 80), psocket.NI_NUMERICHOST | psocket.NI_NUMERICSERV
        )
        assert (host, port) == ("127.0.0.1", "80")
        with pytest.raises(psocket.gaierror):
            await psocket.getaddrinfo("no-such-host.invalid", 80)
        with pytest.raises(TypeError):
            await psocket.getaddrinfo(123, 80)  # type: ignore[arg-type]  # wrong on purpose

    run(main)


def test_getaddrinfo_cancellable(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_getaddrinfo(host: object, port: object, *args: int) -> list[object]:
        if args[-1] & psocket.AI_NUMERICHOST:
            raise psocket.gaierror(psocket.EAI_NONAME, "not numeric")
        time.sleep(1)  # a resolver stuck on a dead DNS server
        return []

    import pike._dns

    monkeypatch.setattr(pike._dns, "_gai", slow_getaddrinfo)

    async def main() -> None:
        start = time.monotonic()
        with pike.move_on_after(0.05):
            await psocket.getaddrinfo("slow.example", 80)
        assert time.monotonic() - start < 0.5

    run(main)


# -- checkpoints -----------------------------------------------------------------------


def test_operations_are_checkpoints(run: Runner) -> None:
    async def main() -> None:
        a, b = psocket.socketpair()
        with a, b:
            await a.send(b"data")
            with pike.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(pike.Cancelled):
                    await b.recv(10)  # data is there, but cancelled tasks don't start
                with pytest.raises(pike.Cancelled):
                    await a.send(b"more")
            assert await b.recv(10) == b"data"  # nothing was consumed

            # A successful call still yields: another task gets to run.
            ran = []

            async def other() -> None:
                ran.append(True)

            async with pike.open_nursery() as nursery:
                nursery.start_soon(other)
                await a.send(b"x")
                assert ran == [True]
                await b.recv(1)

    run(main)


# -- errors ----------------------------------------------------------------------------


def test_connection_refused(run: Runner) -> None:
    async def main() -> None:
        with psocket.socket() as probe:
            await probe.bind(("127.0.0.1", 0))
            addr = probe.getsockname()  # bound but not listening: refuses
            with psocket.socket() as client, pytest.raises(ConnectionRefusedError):
                await client.connect(addr)

    with FdLeakCheck():
        run(main)


def test_peer_reset_mid_send(run: Runner) -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        with client:
            # RST on close: linger on, timeout 0.
            server.setsockopt(psocket.SOL_SOCKET, psocket.SO_LINGER, struct.pack("ii", 1, 0))
            server.close()
            await pike.sleep(0.01)
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                for _ in range(100):
                    await client.send(b"x" * 65536)

    with FdLeakCheck():
        run(main)


def test_send_after_close(run: Runner) -> None:
    async def main() -> None:
        a, b = psocket.socketpair()
        b.close()
        a.close()
        a.close()  # idempotent
        with pytest.raises(OSError) as info:
            await a.send(b"x")
        assert info.value.errno == errno.EBADF
        with pytest.raises(OSError):
            await a.recv(1)

    with FdLeakCheck():
        run(main)


def test_close_from_another_task_wakes_blocked_ops(run: Runner) -> None:
    async def main() -> None:
        a, a_peer = psocket.socketpair()
        b, b_peer = psocket.socketpair()

        async def blocked_recv() -> None:
            with pytest.raises(pike.ClosedResourceError):
                await a.recv(10)

        async def blocked_send() -> None:
            with pytest.raises(pike.ClosedResourceError):
                while True:
                    await b.send(b"x" * 65536)

        async with pike.open_nursery() as nursery:
            nursery.start_soon(blocked_recv)
            nursery.start_soon(blocked_send)
            await pike.sleep(0.05)
            a.close()
            b.close()
        a_peer.close()
        b_peer.close()

    with FdLeakCheck():
        run(main)


def test_two_receivers_busy(run: Runner) -> None:
    async def main() -> None:
        a, b = psocket.socketpair()
        with a, b:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(a.recv, 10)
                await pike.sleep(0.01)
                with pytest.raises(pike.BusyResourceError):
                    await a.recv(10)
                await b.send(b"done")

    run(main)


# -- cancellation leaves nothing behind ----------------------------------------------------


def test_cancel_connect_closes_socket(run: Runner) -> None:
    async def main() -> None:
        listener, fillers = await full_backlog_listener()
        try:
            before = open_fds()
            sock = psocket.socket()
            with pike.move_on_after(0.1) as scope:
                await sock.connect(listener.getsockname())
            if not scope.cancelled_caught:
                sock.close()
                pytest.skip("this kernel completed the connect despite the full backlog")
            assert sock.fileno() == -1
            assert open_fds() == before
        finally:
            listener.close()
            for s in fillers:
                s.close()

    with FdLeakCheck():
        run(main)


def test_cancel_accept_recv_send_leave_no_waiter(run: Runner) -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        with client, server, psocket.socket() as listener:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            before = open_fds()
            with pike.move_on_after(0.02):
                await listener.accept()
            with pike.move_on_after(0.02):
                await server.recv(10)
            with pike.move_on_after(0.05):
                while True:
                    await client.send(b"x" * 65536)
            assert open_fds() == before
            # The waiter slots were emptied: waiting again in each direction
            # does not raise BusyResourceError (it would if a waiter was left).
            for _ in range(2):
                with pike.move_on_after(0.01):
                    await listener.accept()
                with pike.move_on_after(0.01):
                    await server.recv(10)
                with pike.move_on_after(0.01):
                    await client.send(b"x" * 65536)
                    await client.send(b"x" * 65536)
            assert open_fds() == before

    with FdLeakCheck():
        run(main)


# -- churn -------------------------------------------------------------------------------


@pytest.mark.parametrize("notifier", [n for n in ("epoll", "poll") if n in
                                      pike._notifier.available_notifiers()])
def test_churn_5000_connections(notifier: str) -> None:
    from _io_support import make_runner

    count = 5000

    async def main() -> None:
        with psocket.socket() as listener:
            await listener.bind(("127.0.0.1", 0))
            listener.listen(512)
            addr = listener.getsockname()

            async def acceptor() -> None:
                for _ in range(count):
                    sock, _ = await listener.accept()
                    sock.close()

            async def connector() -> None:
                for _ in range(count):
                    with psocket.socket() as sock:
                        await sock.connect(addr)

            async with pike.open_nursery() as nursery:
                nursery.start_soon(acceptor)
                nursery.start_soon(connector)

    before = open_fds()
    make_runner(notifier)(main)
    assert open_fds() == before


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc")
def test_fd_counting_works() -> None:
    before = open_fds()
    r, w = os.pipe()
    assert open_fds() == before + 2
    os.close(r)
    os.close(w)
