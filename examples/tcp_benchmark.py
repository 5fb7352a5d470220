"""TCP echo benchmark: pike's sockets against trio's and asyncio+uvloop's.

N clients each send a message, wait for its echo, and repeat for a fixed time;
an echo server in the same process answers. Reported: round trips per second
and the echoed bandwidth. pike, trio and ``uvloop-sock`` run the very same
program shape: a coroutine per connection on raw non-blocking sockets
(``loop.sock_recv``/``sock_sendall`` for uvloop). ``uvloop`` is the Protocol
API, where uvloop's C transport does all reading and writing and Python only
sees callbacks: the ceiling for any Python-level coroutine design.

    python examples/tcp_benchmark.py                 # pike only
    python examples/tcp_benchmark.py --compare       # pike, trio, uvloop + ratios
    python examples/tcp_benchmark.py --clients 50 --size 4096 --seconds 3

Each backend runs in its own subprocess, so none inherits another's state.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

BACKENDS = ("pike", "trio", "uvloop-sock", "uvloop")


# -- pike and trio: one program, two libraries ---------------------------------------


def bench_trio_shaped(library: str, clients: int, size: int, seconds: float) -> int:
    """The echo on raw sockets; pike and trio share the API, so only the import differs."""
    lib = importlib.import_module(library)
    lib_socket = importlib.import_module(f"{library}.socket")

    message = b"x" * size
    count = 0

    async def echo(conn: Any) -> None:
        with conn:
            recv, send = conn.recv, conn.send
            while data := await recv(65536):
                await send(data)

    async def client(addr: Any, deadline: float) -> None:
        nonlocal count
        with lib_socket.socket() as sock:
            sock.setsockopt(lib_socket.IPPROTO_TCP, lib_socket.TCP_NODELAY, 1)
            await sock.connect(addr)
            recv, send = sock.recv, sock.send
            n = 0
            while time.monotonic() < deadline:
                await send(message)
                got = 0
                while got < size:
                    got += len(await recv(65536))
                n += 1
            count += n

    async def main() -> None:
        with lib_socket.socket() as listener:
            await listener.bind(("127.0.0.1", 0))
            listener.listen(1024)
            addr = listener.getsockname()
            async with lib.open_nursery() as server:

                async def accept_loop() -> None:
                    while True:
                        conn, _ = await listener.accept()
                        conn.setsockopt(lib_socket.IPPROTO_TCP, lib_socket.TCP_NODELAY, 1)
                        server.start_soon(echo, conn)

                server.start_soon(accept_loop)
                deadline = time.monotonic() + seconds
                async with lib.open_nursery() as nursery:
                    for _ in range(clients):
                        nursery.start_soon(client, addr, deadline)
                server.cancel_scope.cancel()

    lib.run(main)
    return count


def bench_pike(clients: int, size: int, seconds: float) -> int:
    return bench_trio_shaped("pike", clients, size, seconds)


def bench_trio(clients: int, size: int, seconds: float) -> int:
    return bench_trio_shaped("trio", clients, size, seconds)


# -- asyncio + uvloop, raw sockets (the same program as pike's and trio's) ----------------


def bench_uvloop_sock(clients: int, size: int, seconds: float) -> int:
    import asyncio

    import uvloop

    message = b"x" * size
    count = 0

    async def echo(conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        with conn:
            while data := await loop.sock_recv(conn, 65536):
                await loop.sock_sendall(conn, data)

    async def client(addr: Any, deadline: float) -> None:
        nonlocal count
        loop = asyncio.get_running_loop()
        with socket.socket() as sock:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, addr)
            n = 0
            while time.monotonic() < deadline:
                await loop.sock_sendall(sock, message)
                got = 0
                while got < size:
                    got += len(await loop.sock_recv(sock, 65536))
                n += 1
            count += n

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with socket.socket() as listener:
            listener.setblocking(False)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1024)
            addr = listener.getsockname()
            tasks: set[asyncio.Task[None]] = set()

            async def accept_loop() -> None:
                while True:
                    conn, _ = await loop.sock_accept(listener)
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    task = asyncio.create_task(echo(conn))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

            acceptor = asyncio.create_task(accept_loop())
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(client(addr, deadline) for _ in range(clients)))
            acceptor.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(acceptor, *tasks, return_exceptions=True)

    uvloop.run(main())
    return count


# -- asyncio + uvloop, Protocol API ----------------------------------------------------------


def bench_uvloop(clients: int, size: int, seconds: float) -> int:
    import asyncio

    import uvloop

    message = b"x" * size
    count = 0

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    class Client(asyncio.Protocol):
        def __init__(self, deadline: float, done: asyncio.Future[None]) -> None:
            self.deadline = deadline
            self.done = done
            self.got = 0
            self.n = 0

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            transport.write(message)

        def data_received(self, data: bytes) -> None:
            nonlocal count
            self.got += len(data)
            if self.got < size:
                return
            self.got = 0
            self.n += 1
            if time.monotonic() < self.deadline:
                self.transport.write(message)
            else:
                count += self.n
                self.transport.close()
                self.done.set_result(None)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=1024)
        addr = server.sockets[0].getsockname()
        deadline = time.monotonic() + seconds
        futures = []
        for _ in range(clients):
            done = loop.create_future()
            await loop.create_connection(lambda d=done: Client(deadline, d), *addr)
            futures.append(done)
        await asyncio.gather(*futures)
        server.close()

    uvloop.run(main())
    return count


# -- driver ----------------------------------------------------------------------------


def run_one(backend: str, clients: int, size: int, seconds: float) -> dict[str, Any]:
    bench = {
        "pike": bench_pike,
        "trio": bench_trio,
        "uvloop-sock": bench_uvloop_sock,
        "uvloop": bench_uvloop,
    }[backend]
    start = time.perf_counter()
    count = bench(clients, size, seconds)
    elapsed = time.perf_counter() - start
    return {
        "backend": backend,
        "round_trips_per_s": count / elapsed,
        "mb_per_s": count * size * 2 / elapsed / 1e6,
    }


def run_in_subprocess(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable, os.path.abspath(__file__), "--backend", backend, "--json",
        "--clients", str(args.clients), "--size", str(args.size), "--seconds", str(args.seconds),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="pike")
    parser.add_argument("--compare", action="store_true", help="run every backend, print ratios")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024, help="message size in bytes")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    socket.setdefaulttimeout(None)
    if args.json:
        print(json.dumps(run_one(args.backend, args.clients, args.size, args.seconds)))
        return
    backends = BACKENDS if args.compare else (args.backend,)
    print(f"echo: {args.clients} clients, {args.size}-byte messages, {args.seconds:g} s each")
    results = {}
    for backend in backends:
        try:
            results[backend] = run_in_subprocess(backend, args)
        except subprocess.CalledProcessError as exc:
            print(f"{backend:>11}: failed ({exc.stderr.strip().splitlines()[-1]})")
            continue
        r = results[backend]
        print(f"{backend:>11}: {r['round_trips_per_s']:>10,.0f} round trips/s "
              f"{r['mb_per_s']:>8.1f} MB/s")
    if "pike" in results and len(results) > 1:
        base = results["pike"]["round_trips_per_s"]
        for backend, r in results.items():
            if backend != "pike":
                print(f"pike / {backend}: {base / r['round_trips_per_s']:.2f}x")


if __name__ == "__main__":
    main()
