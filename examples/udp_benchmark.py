"""UDP benchmark on pike: N client sockets ping-pong datagrams with one echo socket.

    python examples/udp_benchmark.py --clients 10 --size 512 --seconds 1
"""

from __future__ import annotations

import argparse
import time

import pike
import pike.socket as psocket


async def main(clients: int, size: int, seconds: float) -> None:
    message = b"u" * size
    count = 0

    async def server(sock: psocket.SocketType) -> None:
        recvfrom, sendto = sock.recvfrom, sock.sendto
        while True:
            data, addr = await recvfrom(65536)
            await sendto(data, addr)

    async def client(addr: tuple[str, int], deadline: float) -> None:
        nonlocal count
        with psocket.socket(type=psocket.SOCK_DGRAM) as sock:
            await sock.connect(addr)  # connected UDP: plain send/recv
            n = 0
            while time.monotonic() < deadline:
                await sock.send(message)
                with pike.move_on_after(1):  # a lost datagram must not hang us
                    await sock.recv(65536)
                n += 1
            count += n

    with psocket.socket(type=psocket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        addr = sock.getsockname()
        start = time.perf_counter()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(server, sock)
            async with pike.open_nursery() as inner:
                deadline = time.monotonic() + seconds
                for _ in range(clients):
                    inner.start_soon(client, addr, deadline)
            nursery.cancel_scope.cancel()
        elapsed = time.perf_counter() - start
    print(f"udp echo: {clients} clients, {size}-byte datagrams: "
          f"{count / elapsed:,.0f} round trips/s, {count * size * 2 / elapsed / 1e6:.1f} MB/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    pike.run(main, args.clients, args.size, args.seconds)
