"""A TCP echo server on pike: ``serve_tcp`` runs one handler task per connection.

    python examples/tcp_server.py                  # port 9000, stops after 3 s
    python examples/tcp_server.py --port 0 --forever

Talk to it with ``python examples/tcp_client.py --port 9000`` (or ``nc``).
"""

from __future__ import annotations

import argparse

import pike


async def echo(stream: pike.SocketStream) -> None:
    peer = stream.socket.getpeername()
    print(f"connection from {peer[0]}:{peer[1]}")
    try:
        while data := await stream.receive_some():
            await stream.send_all(data)
    except pike.BrokenResourceError:
        pass  # the client vanished; one bad connection must not stop the server
    print(f"{peer[0]}:{peer[1]} closed")


async def main(port: int, seconds: float | None) -> None:
    async with pike.open_nursery() as nursery:
        listeners = await nursery.start(pike.serve_tcp, echo, port)
        for listener in listeners:
            host, bound_port = listener.socket.getsockname()[:2]
            print(f"echo server listening on {host}:{bound_port}", flush=True)
        if seconds is not None:
            await pike.sleep(seconds)
            print(f"{seconds:g} s are up, stopping")
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--forever", action="store_true")
    args = parser.parse_args()
    pike.run(main, args.port, None if args.forever else args.seconds)
