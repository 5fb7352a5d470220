"""SocketStream, SocketListener and the open_*/serve_* helpers, on every notifier."""

from __future__ import annotations

import errno
import os
import struct
from typing import Any

import pytest
from _io_support import FdLeakCheck, Runner, run

import pike
import pike.socket as psocket
from pike import _highlevel_open

__all__ = ["run"]


async def stream_pair() -> tuple[pike.SocketStream, pike.SocketStream]:
    listeners = await pike.open_tcp_listeners(0, host="127.0.0.1")
    (listener,) = listeners
    async with listener:
        port = listener.socket.getsockname()[1]
        client = await pike.open_tcp_stream("127.0.0.1", port)
        server = await listener.accept()
    return client, server


def test_send_all_receive_some_large(run: Runner) -> None:
    payload = os.urandom(3 * 1024 * 1024)

    async def main() -> None:
        client, server = await stream_pair()
        received = bytearray()

        async def reader() -> None:
            while True:
                chunk = await server.receive_some(100_000)
                if not chunk:
                    return
                received.extend(chunk)

        async with client, server, pike.open_nursery() as nursery:
            nursery.start_soon(reader)
            await client.send_all(payload)
            await client.send_eof()
            await client.send_eof()  # twice is fine
        assert bytes(received) == payload

    with FdLeakCheck():
        run(main)


def test_send_all_memoryview_formats(run: Runner) -> None:
    async def main() -> None:
        client, server = await stream_pair()
        async with client, server:
            import array

            await client.send_all(memoryview(array.array("i", [1, 2])))
            await client.send_all(bytearray(b"ab"))
            got = b""
            while len(got) < 10:
                got += await server.receive_some()
            assert got == struct.pack("ii", 1, 2) + b"ab"
            assert client.getsockopt(psocket.IPPROTO_TCP, psocket.TCP_NODELAY)
            client.setsockopt(psocket.SOL_SOCKET, psocket.SO_KEEPALIVE, 1)
            await client.wait_send_all_might_not_block()

    run(main)


def test_stream_errors(run: Runner) -> None:
    async def main() -> None:
        client, server = await stream_pair()
        with pytest.raises(ValueError):
            await client.receive_some(0)
        with pytest.raises(TypeError):
            await client.receive_some(1.5)  # type: ignore[arg-type]  # wrong on purpose
        await client.aclose()
        await client.aclose()  # idempotent
        with pytest.raises(pike.ClosedResourceError):
            await client.receive_some()
        with pytest.raises(pike.ClosedResourceError):
            await client.send_all(b"x")
        with pytest.raises(pike.ClosedResourceError):
            await client.send_eof()
        with pytest.raises(pike.ClosedResourceError):
            await client.wait_send_all_might_not_block()
        assert await server.receive_some() == b""  # EOF
        await server.aclose()
        with pytest.raises(TypeError):
            pike.SocketStream(object())  # type: ignore[arg-type]  # wrong on purpose
        with psocket.socket(type=psocket.SOCK_DGRAM) as udp, pytest.raises(ValueError):
            pike.SocketStream(udp)
        with psocket.socket() as unlistening, pytest.raises(ValueError):
            pike.SocketListener(unlistening)

    with FdLeakCheck():
        run(main)


def test_concurrent_use_is_busy(run: Runner) -> None:
    async def main() -> None:
        client, server = await stream_pair()
        async with client, server, pike.open_nursery() as nursery:
            nursery.start_soon(server.receive_some)

            async def flood() -> None:
                with pytest.raises(pike.ClosedResourceError):
                    while True:
                        await client.send_all(b"x" * 1_000_000)

            nursery.start_soon(flood)
            await pike.sleep(0.05)
            with pytest.raises(pike.BusyResourceError):
                await client.send_all(b"y")
            with pytest.raises(pike.BusyResourceError):
                await client.send_eof()
            with pytest.raises(pike.BusyResourceError):
                await client.wait_send_all_might_not_block()
            # The first receive got the flood's bytes and returned; block another.
            async def receive_until_closed() -> None:
                with pytest.raises(pike.ClosedResourceError):
                    await client.receive_some()

            nursery.start_soon(receive_until_closed)
            await pike.sleep(0.01)
            with pytest.raises(pike.BusyResourceError):
                await client.receive_some()
            await client.aclose()  # wakes the blocked sender and receiver
            nursery.cancel_scope.cancel()

    run(main)


async def reset_pair() -> tuple[pike.SocketStream, pike.SocketStream]:
    """A pair whose server side is closed with RST (SO_LINGER 0)."""
    client, server = await stream_pair()
    server.socket.setsockopt(psocket.SOL_SOCKET, psocket.SO_LINGER, struct.pack("ii", 1, 0))
    await server.aclose()
    await pike.sleep(0.01)
    return client, server


def test_peer_reset_mid_send_is_broken(run: Runner) -> None:
    async def main() -> None:
        client, _ = await reset_pair()
        with pytest.raises(pike.BrokenResourceError) as info:
            for _ in range(100):
                await client.send_all(b"x" * 65536)
        assert isinstance(info.value.__cause__, (ConnectionResetError, BrokenPipeError))
        await client.aclose()

    with FdLeakCheck():
        run(main)


def test_peer_reset_receive_is_broken(run: Runner) -> None:
    async def main() -> None:
        client, _ = await reset_pair()
        with pytest.raises(pike.BrokenResourceError):
            await client.receive_some()
        await client.aclose()

    with FdLeakCheck():
        run(main)


def test_open_tcp_stream_refused(run: Runner) -> None:
    async def main() -> None:
        with psocket.socket() as probe:
            await probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            with pytest.raises(OSError) as info:
                await pike.open_tcp_stream("127.0.0.1", port)
            assert info.value.errno == errno.ECONNREFUSED
            assert isinstance(info.value.__cause__, ExceptionGroup)
        with pytest.raises(TypeError):
            await pike.open_tcp_stream(None, 80)  # type: ignore[arg-type]  # wrong on purpose
        with pytest.raises(TypeError):
            # The wrong type is the point of this call (the ignore below).
            await pike.open_tcp_stream("127.0.0.1", "80")  # type: ignore[arg-type]

    with FdLeakCheck():
        run(main)


def test_happy_eyeballs(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first address hangs, a dead one refuses, the last one answers."""

    async def main() -> None:
        from test_io_socket import full_backlog_listener

        hanging, fillers = await full_backlog_listener()
        with psocket.socket() as dead:
            await dead.bind(("127.0.0.1", 0))
            listener = (await pike.open_tcp_listeners(0, host="127.0.0.1"))[0]
            targets: list[Any] = [
                (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", hanging.getsockname()),
                (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", dead.getsockname()),
                (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", listener.socket.getsockname()),
            ]

            async def fake_getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
                return list(targets)

            monkeypatch.setattr(_highlevel_open, "getaddrinfo", fake_getaddrinfo)
            start = pike.current_time()
            stream = await pike.open_tcp_stream("example", 0, happy_eyeballs_delay=0.05)
            elapsed = pike.current_time() - start
            assert stream.socket.getpeername() == listener.socket.getsockname()
            # 50 ms for the hanging one; the refusal starts the third at once.
            assert elapsed < 0.5
            await stream.aclose()
            await listener.aclose()
        hanging.close()
        for s in fillers:
            s.close()

    with FdLeakCheck():
        run(main)


def test_happy_eyeballs_reorder() -> None:
    v4 = (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", ("1.1.1.1", 1))
    v6 = (psocket.AF_INET6, psocket.SOCK_STREAM, 6, "", ("::1", 1, 0, 0))
    targets: list[Any] = [v6, v6, v6, v4, v4]
    assert _highlevel_open._reorder(targets) == [v6, v4, v6, v6, v4]


def test_serve_tcp_echo(run: Runner) -> None:
    async def echo(stream: pike.SocketStream) -> None:
        while data := await stream.receive_some():
            await stream.send_all(data)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            listeners = await nursery.start(pike.serve_tcp, echo, 0)
            ports = {listener.socket.getsockname()[1] for listener in listeners}
            families = {listener.socket.family for listener in listeners}
            assert psocket.AF_INET in families
            port = next(
                lst.socket.getsockname()[1]
                for lst in listeners
                if lst.socket.family == psocket.AF_INET
            )
            assert port in ports
            for i in range(5):
                async with await pike.open_tcp_stream("127.0.0.1", port) as stream:
                    await stream.send_all(b"hello %d" % i)
                    assert await stream.receive_some() == b"hello %d" % i
            nursery.cancel_scope.cancel()
        for listener in listeners:
            assert listener.socket.fileno() == -1  # serving closed them

    with FdLeakCheck():
        run(main)


def test_open_tcp_listeners_validation(run: Runner) -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            await pike.open_tcp_listeners("80")  # type: ignore[arg-type]  # wrong on purpose
        with pytest.raises(ValueError):
            await pike.open_tcp_listeners(0, backlog=0)
        listeners = await pike.open_tcp_listeners(0, host="127.0.0.1", backlog=5)
        for listener in listeners:
            await listener.aclose()
            with pytest.raises(pike.ClosedResourceError):
                await listener.accept()

    with FdLeakCheck():
        run(main)


def test_listener_drops_connection_aborted_before_accept(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connection the peer aborted before accept() is skipped; the listener
    # then hands out the next good one instead of failing.
    real_accept = psocket.SocketType.accept
    failures = [errno.ECONNABORTED]

    async def flaky_accept(self: psocket.SocketType) -> tuple[psocket.SocketType, Any]:
        if failures:
            raise OSError(failures.pop(), "aborted before accept")
        return await real_accept(self)

    monkeypatch.setattr(psocket.SocketType, "accept", flaky_accept)

    async def main() -> None:
        client, server = await stream_pair()
        async with client, server:
            await client.send_all(b"ok")
            assert await server.receive_some() == b"ok"
        assert failures == []  # the injected failure was met and skipped

    with FdLeakCheck():
        run(main)


def test_listener_other_accept_errors_propagate(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_accept(self: psocket.SocketType) -> tuple[psocket.SocketType, Any]:
        raise OSError(errno.EINVAL, "not a connection problem")

    async def main() -> None:
        (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            monkeypatch.setattr(psocket.SocketType, "accept", failing_accept)
            with pytest.raises(OSError) as info:
                await listener.accept()
            assert info.value.errno == errno.EINVAL
            assert not isinstance(info.value, pike.ClosedResourceError)

    with FdLeakCheck():
        run(main)


def test_listener_trusts_socket_when_os_cannot_tell(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pike import _streams

    monkeypatch.setattr(_streams, "_SO_ACCEPTCONN", None)

    async def main() -> None:
        with psocket.socket() as unlistening:
            listener = pike.SocketListener(unlistening)  # no ValueError: unknown state
            assert listener.socket is unlistening

    run(main)


def test_listener_close_wakes_accept(run: Runner) -> None:
    async def main() -> None:
        (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
        async with pike.open_nursery() as nursery:

            async def accept() -> None:
                with pytest.raises(pike.ClosedResourceError):
                    await listener.accept()

            nursery.start_soon(accept)
            await pike.sleep(0.01)
            await listener.aclose()

    with FdLeakCheck():
        run(main)


def test_open_unix_socket(run: Runner, tmp_path: Any) -> None:
    path = str(tmp_path / "sock")

    async def main() -> None:
        with psocket.socket(psocket.AF_UNIX) as raw:
            await raw.bind(path)
            raw.listen()
            listener = pike.SocketListener(raw)
            async with await pike.open_unix_socket(path) as client:
                server = await listener.accept()
                async with server:
                    await client.send_all(b"over unix")
                    assert await server.receive_some() == b"over unix"
        with pytest.raises(FileNotFoundError):
            await pike.open_unix_socket(path + ".missing")

    with FdLeakCheck():
        run(main)


def test_stream_cancel_receive_then_reuse(run: Runner) -> None:
    async def main() -> None:
        client, server = await stream_pair()
        async with client, server:
            with pike.move_on_after(0.01):
                await server.receive_some()
            await client.send_all(b"after")
            assert await server.receive_some() == b"after"

    run(main)


def test_open_tcp_listeners_skips_unusable_family(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pike import _highlevel_serve

    v6 = (psocket.AF_INET6, psocket.SOCK_STREAM, 6, "", ("::1", 0, 0, 0))
    v4 = (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))
    real_socket = psocket.socket  # the object _highlevel_serve imported; patched below
    refused: set[int] = set()

    async def fake_getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        return [v6, v4]

    def picky_socket(family: int, type_: int, proto: int) -> psocket.SocketType:
        if family in refused:
            raise OSError(errno.EAFNOSUPPORT, "family disabled")
        return real_socket(family, type_, proto)

    monkeypatch.setattr(_highlevel_serve, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(_highlevel_serve, "socket", picky_socket)

    async def main() -> None:
        refused.add(psocket.AF_INET6)
        (listener,) = await pike.open_tcp_listeners(0)
        async with listener:
            assert listener.socket.family == psocket.AF_INET
        refused.add(psocket.AF_INET)
        with pytest.raises(OSError) as info:
            await pike.open_tcp_listeners(0)
        assert info.value.errno == errno.EAFNOSUPPORT
        cause = info.value.__cause__
        assert isinstance(cause, ExceptionGroup) and len(cause.exceptions) == 2

    with FdLeakCheck():
        run(main)


def test_socket_and_fd_streams_report_misuse_alike(run: Runner) -> None:
    # Both streams take their misuse errors from pike._stream_errors: a second
    # receiver is busy, and any use after close is "closed", in the same words.
    from pike.lowlevel import FdStream

    async def misuse(stream: Any, peer_close: Any) -> list[str]:
        messages = []
        async with pike.open_nursery() as nursery:
            nursery.start_soon(stream.receive_some)
            await pike.sleep(0.01)
            with pytest.raises(pike.BusyResourceError) as busy:
                await stream.receive_some()
            messages.append(str(busy.value))
            nursery.cancel_scope.cancel()
        await stream.aclose()
        with pytest.raises(pike.ClosedResourceError) as closed:
            await stream.wait_send_all_might_not_block()
        messages.append(str(closed.value))
        peer_close()
        return messages

    async def main() -> None:
        client, server = await stream_pair()
        socket_messages = await misuse(server, client.socket.close)
        r, w = os.pipe()
        fd_messages = await misuse(FdStream(r), lambda: os.close(w))
        assert socket_messages == fd_messages
        assert "already receiving" in fd_messages[0]

    with FdLeakCheck():
        run(main)


def test_happy_eyeballs_reorder_edge_cases() -> None:
    v4a = (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", ("1.1.1.1", 1))
    v4b = (psocket.AF_INET, psocket.SOCK_STREAM, 6, "", ("1.1.1.2", 1))
    v6 = (psocket.AF_INET6, psocket.SOCK_STREAM, 6, "", ("::1", 1, 0, 0))
    reorder = _highlevel_open._reorder
    assert reorder([v4a]) == [v4a]
    assert reorder([v4a, v4b]) == [v4a, v4b]  # one family: unchanged
    assert reorder([v4a, v6, v4b]) == [v4a, v6, v4b]  # already alternating
    assert reorder([v4a, v4b, v6]) == [v4a, v6, v4b]


def test_serve_listeners_waits_out_fd_shortage(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EMFILE from accept pauses the accept loop instead of ending the server;
    # the connection waiting in the backlog is then served.
    real_accept = pike.SocketListener.accept
    shortages = [errno.EMFILE]

    async def short_of_fds(self: pike.SocketListener) -> pike.SocketStream:
        if shortages:
            raise OSError(shortages.pop(), "too many open files")
        return await real_accept(self)

    monkeypatch.setattr(pike.SocketListener, "accept", short_of_fds)

    async def echo(stream: pike.SocketStream) -> None:
        await stream.send_all(await stream.receive_some())

    async def main() -> None:
        listeners = await pike.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with pike.open_nursery() as nursery:
            await nursery.start(pike.serve_listeners, echo, listeners)
            async with await pike.open_tcp_stream("127.0.0.1", port) as client:
                await client.send_all(b"hello")
                assert await client.receive_some() == b"hello"
            assert shortages == []
            nursery.cancel_scope.cancel()

    with FdLeakCheck():
        run(main)


def test_serve_listeners_rejects_non_callable_handler(run: Runner) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="handler"):
            await pike.serve_listeners("echo", [])  # type: ignore[arg-type]  # wrong on purpose

    run(main)
