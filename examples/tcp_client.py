"""A TCP client on pike: connect, send lines, print the echoes.

    python examples/tcp_client.py                 # starts its own echo server
    python examples/tcp_client.py --port 9000     # talks to examples/tcp_server.py
"""

from __future__ import annotations

import argparse
from functools import partial

import pike


async def talk(host: str, port: int, lines: list[str]) -> None:
    stream = await pike.open_tcp_stream(host, port)
    async with stream:
        for line in lines:
            await stream.send_all(line.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = await stream.receive_some()
                if not chunk:
                    raise SystemExit("the server closed the connection")
                reply += chunk
            print(f"sent {line!r}, got back {reply.decode().rstrip()!r}")


async def own_echo(stream: pike.SocketStream) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data)


async def main(host: str, port: int | None) -> None:
    lines = ["hello", "from", "pike"]
    if port is not None:
        await talk(host, port, lines)
        return
    async with pike.open_nursery() as nursery:
        listeners = await nursery.start(partial(pike.serve_tcp, own_echo, 0, host="127.0.0.1"))
        own_port = listeners[0].socket.getsockname()[1]
        print(f"(no --port given: started an echo server on port {own_port})")
        await talk("127.0.0.1", own_port, lines)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    pike.run(main, args.host, args.port)
