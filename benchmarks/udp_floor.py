"""The UDP round trip's floor: pike's eight syscalls in a bare loop, no event loop.

``python -m benchmarks.udp_floor`` makes, per round trip, exactly the syscalls
that pike and uvloop make on ``udp_pingpong`` (see strace in README): two
``sendto``, two ``recvfrom`` that return data, two that fail with EAGAIN (the
try-first receive that finds nothing yet) and two ``epoll_wait`` that report
the reply. What is left between this and a backend's figure is that backend's
own work: Python frames for pike, anyio's asyncio glue plus C for uvloop.
"""

from __future__ import annotations

import select
import socket
import time

_MESSAGE = b"x" * 64


def main(rounds: int = 50_000) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    poller = select.epoll()
    with server, client, poller:
        for sock in (server, client):
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            poller.register(sock.fileno(), select.EPOLLIN | select.EPOLLET)
        server_address = server.getsockname()

        def round_trip() -> None:
            client.sendto(_MESSAGE, server_address)
            try:
                client.recvfrom(65536)  # the reply cannot be there yet: EAGAIN
            except BlockingIOError:
                pass
            poller.poll(-1)
            data, address = server.recvfrom(65536)
            server.sendto(data, address)
            try:
                server.recvfrom(65536)  # the server's next receive: EAGAIN
            except BlockingIOError:
                pass
            poller.poll(-1)
            client.recvfrom(65536)

        for _ in range(rounds // 20):
            round_trip()
        cpu_started = time.process_time()
        started = time.perf_counter()
        for _ in range(rounds):
            round_trip()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    # CPU time per round trip is the steadier figure on a shared machine.
    print(f"udp floor: {rounds / elapsed:,.0f} round trips/s, "
          f"{cpu / rounds * 1e6:.1f} us CPU per round trip")


if __name__ == "__main__":
    main()
