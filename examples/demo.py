"""pike in one screen: an echo server, clients, a subprocess and a signal, one nursery.

    python examples/demo.py

Everything runs as tasks of one ``pike.run``: structured concurrency (when the
nursery block ends, every task in it has finished), cancellation by scope,
and I/O that parks a task only when the OS says it would block.
"""

from __future__ import annotations

import os
import signal
import sys
from functools import partial

import pike


async def echo_handler(stream: pike.SocketStream) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data.upper())


async def client(port: int, name: str, log: list[str]) -> None:
    async with await pike.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(f"hello from {name}".encode())
        reply = await stream.receive_some()
        log.append(f"{name} got {reply.decode()!r}")


async def main() -> None:
    start = pike.current_time()
    log: list[str] = []
    async with pike.open_nursery() as nursery:
        listeners = await nursery.start(partial(pike.serve_tcp, echo_handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        print(f"1. echo server (upper-cases what it hears) on 127.0.0.1:{port}")

        async with pike.open_nursery() as clients:
            for i in range(5):
                clients.start_soon(client, port, f"client-{i}", log)
        print(f"2. five concurrent clients finished: {len(log)} replies")
        for line in sorted(log):
            print(f"     {line}")

        result = await pike.run_process(
            [sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1])"],
            stdin=b"ekip morf olleh",
            capture_stdout=True,
        )
        print(f"3. a subprocess reversed our stdin: {result.stdout.decode().strip()!r}")

        with pike.open_signal_receiver(signal.SIGUSR1) as signals:
            os.kill(os.getpid(), signal.SIGUSR1)
            async for signum in signals:
                print(f"4. received {signal.Signals(signum).name} as an async iterator item")
                break

        with pike.move_on_after(0.1) as scope:
            await pike.sleep_forever()
        print(f"5. a cancel scope ended a sleep_forever after 0.1 s: {scope.cancelled_caught}")

        nursery.cancel_scope.cancel()  # stop the server
    print(f"done in {pike.current_time() - start:.2f} s; every task has finished")


if __name__ == "__main__":
    pike.run(main)
