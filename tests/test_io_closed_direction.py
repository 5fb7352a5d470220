"""Sending on a direction the caller closed is ClosedResourceError (issue 9, defect 2).

``send_eof`` and ``close`` are the stream's own decisions, so a later send is a
use-after-close, not a broken stream; only the peer going away is
``BrokenResourceError``. Checked for pike's socket stream, its pipe stream and
anyio's socket stream on pike.
"""

from __future__ import annotations

import os
import socket as stdlib_socket

import anyio
import pytest
from _io_support import Runner, run

import pike

__all__ = ["run"]  # the fixture, imported for pytest


@pytest.mark.parametrize("payload", [b"data", b""])
@pytest.mark.parametrize("kind", ["socketpair", "tcp"])
def test_socket_stream_send_all_after_send_eof(run: Runner, kind: str, payload: bytes) -> None:
    async def main() -> tuple[type[BaseException], bytes]:
        if kind == "socketpair":
            a, b = pike.socket.socketpair()
            ours, theirs = pike.SocketStream(a), pike.SocketStream(b)
        else:
            listeners = await pike.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]
            ours = await pike.open_tcp_stream("127.0.0.1", port)
            theirs = await listeners[0].accept()
            await listeners[0].aclose()
        async with ours, theirs:
            await ours.send_eof()
            with pytest.raises(pike.ClosedResourceError) as info:
                await ours.send_all(payload)
            # The receiving direction is untouched: the peer can still talk to us.
            await theirs.send_all(b"back")
            return info.type, await ours.receive_some(10)

    error, received = run(main)
    assert error is pike.ClosedResourceError
    assert received == b"back"


def test_socket_stream_send_all_after_peer_closed_is_broken(run: Runner) -> None:
    """The contrast: the peer's close breaks the stream (EPIPE once the RST is back)."""

    async def main() -> None:
        a, b = pike.socket.socketpair()
        ours = pike.SocketStream(a)
        b.close()
        async with ours:
            with pytest.raises(pike.BrokenResourceError):
                for _ in range(100):
                    await ours.send_all(b"x" * 65536)

    run(main)


def test_fd_stream_send_all_after_close(run: Runner) -> None:
    async def main() -> None:
        r, w = os.pipe()
        reader, writer = pike.lowlevel.FdStream(r), pike.lowlevel.FdStream(w)
        async with reader:
            await writer.aclose()
            with pytest.raises(pike.ClosedResourceError):
                await writer.send_all(b"data")
            with pytest.raises(pike.ClosedResourceError):
                await writer.send_all(b"")
            assert await reader.receive_some(10) == b""

    run(main)


def test_fd_stream_send_all_after_reader_closed_is_broken(run: Runner) -> None:
    async def main() -> None:
        r, w = os.pipe()
        os.close(r)
        async with pike.lowlevel.FdStream(w) as writer:
            with pytest.raises(pike.BrokenResourceError):
                await writer.send_all(b"data")

    run(main)


def test_anyio_socket_stream_send_after_send_eof() -> None:
    async def main() -> None:
        with stdlib_socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            host, port = listener.getsockname()
            async with await anyio.connect_tcp(host, port) as stream:
                await stream.send_eof()
                with pytest.raises(anyio.ClosedResourceError):
                    await stream.send(b"data")

    anyio.run(main, backend="pike")
