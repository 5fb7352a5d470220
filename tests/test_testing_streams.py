"""pike.testing's memory/lockstep streams and the stream-contract checks.

The checks run against pike's own streams (SocketStream over a socketpair and
over TCP loopback, FdStream over a pipe) and the testing streams; mutant
streams prove each kind of check can fail.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

import pike
from pike import testing
from pike.lowlevel import FdStream
from pike.testing import (
    MemoryReceiveStream,
    MemorySendStream,
    check_half_closeable_stream,
    check_one_way_stream,
    check_two_way_stream,
)

# -- the checks on real streams ------------------------------------------------------


async def socketpair_streams() -> tuple[pike.SocketStream, pike.SocketStream]:
    a, b = pike.socket.socketpair()
    return pike.SocketStream(a), pike.SocketStream(b)


async def tcp_streams() -> tuple[pike.SocketStream, pike.SocketStream]:
    listeners = await pike.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]
    port = listener.socket.getsockname()[1]
    try:
        client = await pike.open_tcp_stream("127.0.0.1", port)
        server = await listener.accept()
    finally:
        await listener.aclose()
    return client, server


async def pipe_streams() -> tuple[FdStream, FdStream]:
    read_fd, write_fd = os.pipe()
    return FdStream(write_fd), FdStream(read_fd)


def test_socket_stream_over_socketpair_is_half_closeable() -> None:
    pike.run(check_half_closeable_stream, socketpair_streams, socketpair_streams)


def test_socket_stream_over_tcp_is_half_closeable() -> None:
    pike.run(check_half_closeable_stream, tcp_streams, tcp_streams)


def test_fd_stream_over_a_pipe_is_a_one_way_stream() -> None:
    pike.run(check_one_way_stream, pipe_streams, pipe_streams)


def test_memory_streams_pass_the_checks() -> None:
    async def one_way() -> Any:
        return testing.memory_stream_one_way_pair()

    async def two_way() -> Any:
        return testing.memory_stream_pair()

    async def main() -> None:
        await check_one_way_stream(one_way, None)
        await check_half_closeable_stream(two_way, None)

    pike.run(main)


def test_lockstep_streams_pass_the_checks_and_are_clogged() -> None:
    async def one_way() -> Any:
        return testing.lockstep_stream_one_way_pair()

    async def two_way() -> Any:
        return testing.lockstep_stream_pair()

    async def main() -> None:
        await check_one_way_stream(one_way, one_way)
        await check_two_way_stream(two_way, two_way)
        # Stapled one-way streams send EOF by closing, so the send_eof/send_all
        # conflict check (clogged maker) does not apply to them.
        await check_half_closeable_stream(two_way, None)

    pike.run(main)


# -- the checks catch broken streams -------------------------------------------------


class _DropsEveryOtherChunk(MemorySendStream):
    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    async def send_all(self, data: Any) -> None:
        self._count += 1
        await super().send_all(data if self._count % 2 else b"")


class _EofInsteadOfClosed(MemoryReceiveStream):
    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._closed:
            return b""
        return await super().receive_some(max_bytes)


class _NoBusyCheck(MemoryReceiveStream):
    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            return await super().receive_some(max_bytes)
        except pike.BusyResourceError:
            return b""  # hides the concurrent use (and lies about EOF)


def _mutant_pair(send_cls: type[MemorySendStream], receive_cls: type[MemoryReceiveStream]) -> Any:
    async def maker() -> tuple[MemorySendStream, MemoryReceiveStream]:
        send = send_cls()
        receive = receive_cls()

        def pump() -> None:
            testing.memory_stream_pump(send, receive)

        async def async_pump() -> None:
            pump()

        send.send_all_hook = async_pump
        receive.receive_some_hook = async_pump
        send.close_hook = pump
        return send, receive

    return maker


@pytest.mark.parametrize(
    ("send_cls", "receive_cls", "message"),
    [
        (_DropsEveryOtherChunk, MemoryReceiveStream, "differ from the sent|end of data"),
        (MemorySendStream, _EofInsteadOfClosed, "expected ClosedResourceError"),
        (MemorySendStream, _NoBusyCheck, "expected BusyResourceError"),
    ],
)
def test_checks_reject_a_broken_stream(
    send_cls: type[MemorySendStream], receive_cls: type[MemoryReceiveStream], message: str
) -> None:
    with pytest.raises(AssertionError, match=message):
        pike.run(check_one_way_stream, _mutant_pair(send_cls, receive_cls), None)


# -- memory streams driven by hand ---------------------------------------------------


def test_memory_send_stream_collects_data_and_runs_hooks() -> None:
    async def main() -> None:
        calls: list[str] = []

        async def on_send() -> None:
            calls.append("send")

        async def on_wait() -> None:
            calls.append("wait")

        stream = MemorySendStream(on_send, on_wait, lambda: calls.append("close"))
        with pytest.raises(pike.WouldBlock):
            stream.get_data_nowait()
        await stream.send_all(b"abc")
        await stream.send_all(bytearray(b"def"))
        await stream.wait_send_all_might_not_block()
        assert stream.get_data_nowait(2) == b"ab"
        assert await stream.get_data() == b"cdef"
        with pytest.raises(ValueError):
            await stream.get_data(0)
        await stream.aclose()
        await stream.aclose()
        assert calls == ["send", "send", "wait", "close"]
        assert await stream.get_data() == b""
        with pytest.raises(pike.ClosedResourceError):
            await stream.send_all(b"x")

    pike.run(main)


def test_memory_receive_stream_returns_what_is_put() -> None:
    async def main() -> None:
        stream = MemoryReceiveStream()
        got: list[bytes] = []

        async def reader() -> None:
            got.append(await stream.receive_some(4))

        async with pike.open_nursery() as nursery:
            nursery.start_soon(reader)
            await testing.wait_all_tasks_blocked()
            stream.put_data(b"hello")
        assert got == [b"hell"]
        stream.put_eof()
        assert await stream.receive_some() == b"o"
        assert await stream.receive_some() == b""
        with pytest.raises(pike.ClosedResourceError):
            stream.put_data(b"late")
        with pytest.raises(ValueError):
            await stream.receive_some(-1)
        with pytest.raises(TypeError):
            await stream.receive_some(1.5)  # type: ignore[arg-type]  # wrong on purpose

    pike.run(main)


def test_pump_breaks_once_the_receiver_is_closed() -> None:
    async def main() -> None:
        send, receive = MemorySendStream(), MemoryReceiveStream()
        assert not testing.memory_stream_pump(send, receive)
        await send.send_all(b"12345")
        assert testing.memory_stream_pump(send, receive, max_bytes=2)
        assert await receive.receive_some() == b"12"
        receive.close()
        with pytest.raises(pike.BrokenResourceError):
            testing.memory_stream_pump(send, receive)

    pike.run(main)


def test_lockstep_send_waits_for_the_receiver() -> None:
    async def main() -> None:
        send, receive = testing.lockstep_stream_one_way_pair()
        log: list[str] = []

        async def sender() -> None:
            await send.send_all(b"abcd")
            log.append("sent")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sender)
            await testing.wait_all_tasks_blocked()
            assert log == []  # no buffer: nobody has read yet
            assert await receive.receive_some(2) == b"ab"
            await testing.wait_all_tasks_blocked()
            assert log == []  # half of it is still waiting
            assert await receive.receive_some() == b"cd"
        assert log == ["sent"]

    pike.run(main)


def test_stapled_stream_send_eof_closes_the_send_side() -> None:
    async def main() -> None:
        a, b = testing.memory_stream_pair()
        await a.send_eof()
        assert await b.receive_some() == b""
        await b.send_all(b"still open")
        assert await a.receive_some() == b"still open"
        await a.aclose()
        with pytest.raises(pike.ClosedResourceError):
            await a.receive_some()
        assert "StapledStream" in repr(a)

    pike.run(main)
