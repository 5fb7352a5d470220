"""Real anyio libraries on pike: starlette's TestClient and an httpx request."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket


async def homepage(request: Request) -> JSONResponse:
    import sniffio

    await anyio.sleep(0)
    return JSONResponse({"library": sniffio.current_async_library()})


async def threaded(request: Request) -> PlainTextResponse:
    return PlainTextResponse(await anyio.to_thread.run_sync(lambda: "from a thread"))


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(text.upper())
    await websocket.close()


app = Starlette(routes=[Route("/", homepage), Route("/thread", threaded),
                        WebSocketRoute("/ws", echo)])


def test_starlette_testclient_on_pike() -> None:
    # starlette annotates `backend` as asyncio|trio, but passes any anyio backend name on.
    with TestClient(app, backend="pike") as client:  # type: ignore[arg-type]  # wrong on purpose
        assert client.get("/").json() == {"library": "pike"}
        assert client.get("/thread").text == "from a thread"
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hello")
            assert ws.receive_text() == "HELLO"


async def _serve_one_http_response(stream: SocketStream) -> None:
    async with stream:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive()
        body = b"hello from pike"
        await stream.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )


@pytest.fixture
def anyio_backend() -> str:
    return "pike"


@pytest.mark.anyio
async def test_httpx_request_to_local_server() -> None:
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port: Any = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, _serve_one_http_response)
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/")
            tg.cancel_scope.cancel()
    assert response.status_code == 200
    assert response.text == "hello from pike"
