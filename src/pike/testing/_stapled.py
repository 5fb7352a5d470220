"""``StapledStream``: one bidirectional stream made of a send and a receive stream."""

from __future__ import annotations

from typing import Any


class StapledStream:
    """Sends go to ``send_stream``, receives come from ``receive_stream``.

    ``send_eof`` uses the send stream's own ``send_eof`` if it has one and
    otherwise closes the send stream: for a one-way stream, closing *is*
    sending EOF. So two stapled one-way pairs make a half-closeable stream.
    """

    def __init__(self, send_stream: Any, receive_stream: Any) -> None:
        self.send_stream = send_stream
        self.receive_stream = receive_stream

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.send_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.send_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        send_eof = getattr(self.send_stream, "send_eof", None)
        if send_eof is not None:
            await send_eof()
        else:
            await self.send_stream.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data: bytes = await self.receive_stream.receive_some(max_bytes)
        return data

    async def aclose(self) -> None:
        try:
            await self.send_stream.aclose()
        finally:
            await self.receive_stream.aclose()

    async def __aenter__(self) -> StapledStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<pike.testing.StapledStream {self.send_stream!r} + {self.receive_stream!r}>"
