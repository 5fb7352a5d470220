"""Cancellation injection: cancel a realistic program at its k-th checkpoint, for every k.

The program is a TCP echo server on loopback with clients that verify every byte, a
``Lock`` around shared counters, a memory channel feeding an Event-based queue (a memory
object stream under anyio) and a ``to_thread`` call. A dry run counts its checkpoints
(every trap a task yields to the kernel); then for each k the run is repeated with the
program's outer cancel scope cancelled just before the k-th trap reaches the kernel.
Each run must end cleanly (``run`` returns, the scope absorbs the cancellation), leave
no fd or thread behind and produce no unraisable exception or ResourceWarning.

The trigger uses only public API: every task of the program is spawned through
``Injector.wrap``, which drives the task's coroutine and counts what it yields. That is
why the program runs its own accept loop rather than ``serve_tcp`` (whose handler tasks
pike spawns itself).

``python -m stress cancel_injection [--long]``: the long mode runs three bigger
program shapes, on every notifier and through anyio.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
import time
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pike
from pike.lowlevel import checkpoint

from ._resources import Snapshot, complaints, open_fds, wait_for_threads


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


class Injector:
    """Counts the traps the program's tasks yield; cancels ``scope`` at trap ``cancel_at``."""

    def __init__(self, cancel_at: int | None) -> None:
        self.cancel_at = cancel_at
        self.count = 0
        self.fired = False
        self.scope: _Cancellable | None = None

    def tick(self) -> None:
        self.count += 1
        if self.count == self.cancel_at and self.scope is not None:
            self.fired = True
            self.scope.cancel()

    def wrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
        injector = self

        async def counted(*args: Any) -> Any:
            return await _drive(fn(*args), injector)

        counted.__name__ = getattr(fn, "__name__", "counted")
        return counted


@types.coroutine
def _drive(coro: Any, injector: Injector) -> Generator[Any, Any, Any]:
    """Pass ``coro``'s traps through to the kernel, ticking ``injector`` before each."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                trap = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            injector.tick()
            try:
                value = yield trap
            except BaseException as exc:  # the kernel's Cancelled, or GeneratorExit
                error = exc
    finally:
        coro.close()


@dataclass(frozen=True)
class Shape:
    clients: int
    messages: int
    size: int


CI_SHAPE = Shape(clients=4, messages=3, size=20_000)
LONG_SHAPES = (
    Shape(clients=6, messages=4, size=70_000),
    Shape(clients=16, messages=2, size=1_000),
    Shape(clients=2, messages=8, size=300_000),
)


def _message(client: int, index: int, size: int) -> bytes:
    seed = f"{client}:{index}:".encode()
    return (seed * (size // len(seed) + 1))[:size]


def expected_digests(shape: Shape) -> list[tuple[int, str]]:
    return sorted(
        (
            c,
            hashlib.sha256(
                b"".join(_message(c, i, shape.size) for i in range(shape.messages))
            ).hexdigest(),
        )
        for c in range(shape.clients)
    )


@dataclass
class Outcome:
    digests: list[tuple[int, str]] = field(default_factory=list)
    echoed: int = 0


class _EventQueue:
    """A one-consumer queue on ``pike.Event``: what a program writes without channels."""

    def __init__(self) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self._event = pike.Event()

    async def put(self, item: Any) -> None:
        self._items.append(item)
        self._event.set()
        await checkpoint()

    async def get(self) -> Any:
        while not self._items:
            self._event = pike.Event()
            await self._event.wait()
        return self._items.popleft()


async def _pike_program(inj: Injector, shape: Shape, out: Outcome) -> None:
    lock = pike.Lock()
    queue = _EventQueue()

    async def handler(stream: pike.SocketStream) -> None:
        async with stream:
            while data := await stream.receive_some(65536):
                async with lock:
                    out.echoed += len(data)
                await stream.send_all(data)

    async def accept_loop(listener: pike.SocketListener, nursery: pike.Nursery) -> None:
        for _ in range(shape.clients):
            stream = await listener.accept()
            nursery.start_soon(inj.wrap(handler), stream)

    async def client(port: int, index: int, send: pike.MemorySendChannel[Any]) -> None:
        async with send:
            sent = []
            async with await pike.open_tcp_stream("127.0.0.1", port) as stream:
                for i in range(shape.messages):
                    message = _message(index, i, shape.size)
                    await stream.send_all(message)
                    got = b""
                    while len(got) < len(message):
                        chunk = await stream.receive_some(65536)
                        if not chunk:
                            raise AssertionError("server closed early")
                        got += chunk
                    if got != message:
                        raise AssertionError(f"client {index}: echo differs from message {i}")
                    sent.append(got)
            data = b"".join(sent)
            digest = await pike.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
            await send.send((index, digest))

    async def forwarder(receive: pike.MemoryReceiveChannel[Any]) -> None:
        async with receive:
            async for item in receive:
                await queue.put(item)

    async def recorder() -> None:
        for _ in range(shape.clients):
            item = await queue.get()
            async with lock:
                out.digests.append(item)

    with pike.CancelScope() as scope:
        inj.scope = scope
        send, receive = pike.open_memory_channel[Any](1)
        (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]
        async with send, listener, pike.open_nursery() as server:
            server.start_soon(inj.wrap(accept_loop), listener, server)
            async with pike.open_nursery() as clients:
                for index in range(shape.clients):
                    clients.start_soon(inj.wrap(client), port, index, send.clone())
                clients.start_soon(inj.wrap(forwarder), receive)
                clients.start_soon(inj.wrap(recorder))
                await send.aclose()


async def _anyio_program(inj: Injector, shape: Shape, out: Outcome) -> None:
    import anyio
    import anyio.abc

    lock = anyio.Lock()
    send, receive = anyio.create_memory_object_stream[tuple[int, str]](1)

    async def handler(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            while True:
                try:
                    data = await stream.receive(65536)
                except anyio.EndOfStream:
                    return
                async with lock:
                    out.echoed += len(data)
                await stream.send(data)

    async def accept_loop(listener: Any, tg: anyio.abc.TaskGroup) -> None:
        for _ in range(shape.clients):
            stream = await listener.accept()
            tg.start_soon(inj.wrap(handler), stream)

    async def client(port: int, index: int, sender: Any) -> None:
        async with sender:
            sent = []
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                for i in range(shape.messages):
                    message = _message(index, i, shape.size)
                    await stream.send(message)
                    got = b""
                    while len(got) < len(message):
                        got += await stream.receive(65536)
                    if got != message:
                        raise AssertionError(f"client {index}: echo differs from message {i}")
                    sent.append(got)
            data = b"".join(sent)
            digest = await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
            await sender.send((index, digest))

    async def consumer() -> None:
        async with receive:
            async for item in receive:
                async with lock:
                    out.digests.append(item)

    with anyio.CancelScope() as scope:
        inj.scope = scope
        async with send, receive:
            multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
            (listener,) = multi.listeners
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            async with listener, anyio.create_task_group() as server:
                server.start_soon(inj.wrap(accept_loop), listener, server)
                async with anyio.create_task_group() as clients:
                    for index in range(shape.clients):
                        clients.start_soon(inj.wrap(client), port, index, send.clone())
                    send.close()
                    clients.start_soon(inj.wrap(consumer))


Program = Callable[[Injector, Shape, Outcome], Awaitable[None]]


Runner = Callable[[Program, Injector, Shape, Outcome], None]


def _runner(flavour: str, notifier: str | None) -> Runner:
    def run(program: Program, inj: Injector, shape: Shape, out: Outcome) -> None:
        if flavour == "anyio":
            import anyio

            anyio.run(program, inj, shape, out, backend="pike")
        elif notifier is None:
            pike.run(program, inj, shape, out)
        else:
            pike.run(program, inj, shape, out, notifier=notifier)

    return run


@dataclass
class Report:
    """The figures of one sweep (one flavour, one notifier)."""

    label: str
    checkpoints: int = 0
    runs: int = 0
    fired: int = 0
    completed: int = 0
    bytes_verified: int = 0
    before: Snapshot | None = None
    after: Snapshot | None = None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        assert self.before is not None and self.after is not None
        return (
            f"cancel_injection[{self.label}]: {self.checkpoints} checkpoints in the dry run, "
            f"{self.runs} runs, cancelled in {self.fired}, completed {self.completed}, "
            f"{self.bytes_verified} bytes echoed and verified in the dry run; "
            f"before {self.before.describe()}, after {self.after.describe()}; "
            f"{len(self.failures)} failures; {self.seconds:.1f}s"
        )


def sweep(flavour: str, shape: Shape, notifier: str | None = None, stride: int = 1) -> Report:
    """Dry-run the program, then cancel it at every ``stride``-th checkpoint."""
    program: Program = _anyio_program if flavour == "anyio" else _pike_program
    run = _runner(flavour, notifier)
    report = Report(label=flavour if notifier is None else f"{flavour}/{notifier}")
    started = time.monotonic()
    # A first run warms caches (imports, DNS, anyio's backend) so the baseline is fair.
    run(program, Injector(None), shape, Outcome())
    wait_for_threads(1)
    report.before = Snapshot.take()

    dry = Outcome()
    inj = Injector(None)
    run(program, inj, shape, dry)
    report.checkpoints = inj.count
    if sorted(dry.digests) != expected_digests(shape):
        report.failures.append(f"dry run: digests {sorted(dry.digests)} are wrong")
    if dry.echoed != shape.clients * shape.messages * shape.size:
        report.failures.append(f"dry run: server echoed {dry.echoed} bytes")
    report.bytes_verified = dry.echoed

    # A little past the dry run's count: the number of traps varies from run to run
    # (a send may or may not hit EAGAIN), and a k beyond the end must also be clean.
    for k in range(1, report.checkpoints + 10, stride):
        inj = Injector(k)
        out = Outcome()
        fds = open_fds()
        with complaints() as found:
            try:
                run(program, inj, shape, out)
            except BaseException as exc:
                report.failures.append(f"k={k}: run raised {exc!r}")
        report.runs += 1
        report.fired += inj.fired
        if not inj.fired:
            report.completed += 1
            if sorted(out.digests) != expected_digests(shape):
                report.failures.append(f"k={k}: not cancelled, yet incomplete: {out.digests}")
        if found:
            report.failures.append(f"k={k}: {found}")
        if open_fds() != fds:
            report.failures.append(f"k={k}: fds {fds} before, {open_fds()} after")
        if wait_for_threads(report.before.threads) > report.before.threads:
            report.failures.append(f"k={k}: a thread outlived the run")
    report.after = Snapshot.take()
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress cancel_injection")
    parser.add_argument("--long", action="store_true", help="bigger programs, every notifier")
    args = parser.parse_args(argv)
    if args.long:
        from pike._notifier import available_notifiers

        plans = [
            (flavour, shape, notifier)
            for shape in LONG_SHAPES
            for flavour, notifier in [("pike", n) for n in available_notifiers()]
            + [("anyio", None)]
        ]
    else:
        plans = [("pike", CI_SHAPE, None), ("anyio", CI_SHAPE, None)]
    failed = False
    for flavour, shape, notifier in plans:
        report = sweep(flavour, shape, notifier)
        print(report.summary(), flush=True)
        for failure in report.failures[:20]:
            print("  FAIL", failure)
        failed = failed or bool(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
