"""The handles' readiness memory must never turn into a hang.

A short read lets a TCP socket skip its next (failing) recv and park at once;
these are the cases where a short read does *not* mean "drained" and pike must
still deliver what is queued: EOF arriving with the data, reading again after
EOF, urgent data stopping a read at its mark, and Unix sockets.
"""

from __future__ import annotations

import socket as stdlib_socket

from _io_support import Runner, run

import pike
import pike.socket as psocket

__all__ = ["run"]
GUARD = 5.0  # seconds; a hang fails the test instead of blocking the suite


async def tcp_pair() -> tuple[psocket.SocketType, psocket.SocketType, psocket.SocketType]:
    listener = psocket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = psocket.socket()
    await client.connect(listener.getsockname())
    server, _ = await listener.accept()
    return listener, client, server


def test_read_until_eof_when_data_and_fin_arrive_together(run: Runner) -> None:
    async def main() -> bytes:
        listener, client, server = await tcp_pair()

        async def reply_and_close() -> None:
            await pike.sleep(0.05)  # the reader parks first, so its handle exists
            server._sock.send(b"HTTP/1.0 200 OK\r\n\r\nhello")
            server.close()

        chunks = []
        with pike.fail_after(GUARD), client, listener:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(reply_and_close)
                while data := await client.recv(65536):
                    chunks.append(data)
        return b"".join(chunks)

    assert run(main) == b"HTTP/1.0 200 OK\r\n\r\nhello"


def test_recv_after_eof_returns_eof_again(run: Runner) -> None:
    async def main() -> tuple[bytes, bytes, int, int]:
        listener, client, server = await tcp_pair()
        with pike.fail_after(GUARD), client, listener:
            async with pike.open_nursery() as nursery:

                async def later() -> None:
                    await pike.sleep(0.05)
                    server.close()

                nursery.start_soon(later)
                first = await client.recv(100)
            second = await client.recv(100)
            buffer = bytearray(10)
            return first, second, await client.recv_into(buffer), await client.recv_into(buffer)

    assert run(main) == (b"", b"", 0, 0)


def test_urgent_data_does_not_strand_the_rest(run: Runner) -> None:
    async def main() -> list[bytes]:
        listener, client, server = await tcp_pair()
        got = []
        with pike.fail_after(GUARD), client, server, listener:
            async with pike.open_nursery() as nursery:

                async def send() -> None:
                    await pike.sleep(0.05)
                    client._sock.send(b"abc")
                    client._sock.send(b"X", stdlib_socket.MSG_OOB)
                    client._sock.send(b"def")

                nursery.start_soon(send)
                got.append(await server.recv(100))
            await pike.sleep(0.05)
            while len(b"".join(got)) < 6:
                got.append(await server.recv(100))
        return got

    assert b"".join(run(main)) == b"abcdef"


def test_unix_short_reads_are_not_trusted(run: Runner) -> None:
    async def main() -> bytes:
        a, b = psocket.socketpair()
        with pike.fail_after(GUARD), a, b:
            async with pike.open_nursery() as nursery:

                async def send() -> None:
                    await pike.sleep(0.05)
                    b._sock.send(b"one")
                    b.close()

                nursery.start_soon(send)
                data = await a.recv(100)
            return data + await a.recv(100)

    assert run(main) == b"one"
