"""The anyio workloads: plain ``async def`` programs on anyio's public API only.

Each workload takes a size ``n`` and returns how many operations it performed
(the worker divides by the wall time it measured around the call).  Using only
public anyio API is what makes the comparison fair: the program is identical on
every backend, only the event loop underneath changes.  Local aliases of hot
functions (``checkpoint = anyio.lowlevel.checkpoint``) are plain Python and
apply to every backend alike.

Sizes are fixed per workload, never per backend, and chosen so that one run
takes roughly 0.3-1 s on asyncio on a small machine: long enough to swamp timer
noise, short enough that 5 interleaved rounds of the whole suite take minutes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import SocketAttribute, SocketStream

#: Payload of the small-message workloads (TCP echo, UDP ping-pong).
SMALL_MESSAGE = b"x" * 64
#: Chunk size of the bulk transfer: a typical socket buffer-sized write.
BULK_CHUNK = 64 * 1024
#: Concurrent connections of the TCP echo workload.
ECHO_CONNECTIONS = 50
#: Task-group batch size of the spawn workload, so memory stays flat with n.
SPAWN_BATCH = 1000
#: ``sleep(0)`` calls per task in the many-tasks workload.
SLEEPS_PER_TASK = 100
#: Concurrent tasks per wave of the many-tasks workload.
SLEEP_WAVE = 1000

#: Background tasks of the busy ping-pong, and the size of each one's CPU burst.
BUSY_TASKS = 100
BUSY_BURST = 500

LOCALHOST = "127.0.0.1"

#: A workload returns either its op count (the worker times it) or, for
#: self-timed workloads such as HTTP, a measurement dict with ``ops``,
#: ``seconds`` and extra fields.
WorkloadResult = float | dict[str, Any]


@dataclass(frozen=True)
class Workload:
    """One benchmark program and how big to make it."""

    name: str
    func: Callable[[int], Awaitable[WorkloadResult]]
    size: int
    smoke_size: int
    unit: str
    what: str
    warmup: bool = True


# --------------------------------------------------------------------------- kernel


async def checkpoint_loop(n: int) -> float:
    """The cheapest possible yield: the floor under every other operation."""
    checkpoint = anyio.lowlevel.checkpoint
    for _ in range(n):
        await checkpoint()
    return n


async def _noop() -> None:
    pass


async def spawn_tasks(n: int) -> float:
    """Spawn-and-join cost of trivial children, in task groups of 1000."""
    done = 0
    while done < n:
        batch = min(SPAWN_BATCH, n - done)
        async with anyio.create_task_group() as tg:
            start_soon = tg.start_soon
            for _ in range(batch):
                start_soon(_noop)
        done += batch
    return n


async def cancel_scope_enter_exit(n: int) -> float:
    """Entering and leaving a scope without a deadline: pure bookkeeping."""
    cancel_scope = anyio.CancelScope
    for _ in range(n):
        with cancel_scope():
            pass
    return n


async def move_on_after_enter_exit(n: int) -> float:
    """A scope with a (far) deadline: adds timer registration and removal."""
    move_on_after = anyio.move_on_after
    for _ in range(n):
        with move_on_after(60):
            pass
    return n


async def timeout_expiry(n: int) -> float:
    """A deadline that has already passed: measures cancellation delivery."""
    move_on_after = anyio.move_on_after
    sleep_forever = anyio.sleep_forever
    for _ in range(n):
        with move_on_after(0):
            await sleep_forever()
    return n


async def many_tasks_sleep0(n: int) -> float:
    """``n`` tasks, in waves of 1000 concurrent ones, each yielding 100 times via
    ``sleep(0)``: scheduling with a long ready queue."""
    sleep = anyio.sleep

    async def sleeper() -> None:
        for _ in range(SLEEPS_PER_TASK):
            await sleep(0)

    done = 0
    while done < n:
        wave = min(SLEEP_WAVE, n - done)
        async with anyio.create_task_group() as tg:
            for _ in range(wave):
                tg.start_soon(sleeper)
        done += wave
    return n * SLEEPS_PER_TASK


# -------------------------------------------------------------------- coordination


async def memory_stream_pingpong(n: int) -> float:
    """Unbuffered memory object stream: every send is a rendezvous of two tasks."""
    send, receive = anyio.create_memory_object_stream[int](0)

    async def producer() -> None:
        async with send:
            for i in range(n):
                await send.send(i)

    received = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        async with receive:
            async for _ in receive:
                received += 1
    assert received == n, (received, n)
    return n


async def lock_contention(n: int) -> float:
    """Two tasks taking one Lock in turn; each holds it across a checkpoint,
    so every acquisition finds it taken and has to park and be handed over."""
    lock = anyio.Lock()
    checkpoint = anyio.lowlevel.checkpoint
    half = n // 2

    async def contender() -> None:
        for _ in range(half):
            async with lock:
                await checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(contender)
        tg.start_soon(contender)
    return 2 * half


async def event_pingpong(n: int) -> float:
    """Two tasks waking each other through fresh one-shot Events."""
    ping = [anyio.Event()]
    pong = [anyio.Event()]

    async def ponger() -> None:
        for _ in range(n):
            await ping[0].wait()
            ping[0] = anyio.Event()
            pong[0].set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ponger)
        for _ in range(n):
            ping[0].set()
            await pong[0].wait()
            pong[0] = anyio.Event()
    return n


def _nothing() -> None:
    return None


async def to_thread_roundtrip(n: int) -> float:
    """Hand a no-op to the worker-thread pool and wait for it, ``n`` times."""
    run_sync = anyio.to_thread.run_sync
    for _ in range(n):
        await run_sync(_nothing)
    return n


# ----------------------------------------------------------------------------- I/O


async def _echo_handler(stream: SocketStream) -> None:
    async with stream:
        try:
            while True:
                await stream.send(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass


async def tcp_echo(n: int) -> float:
    """50 connections doing request/response round trips of 64-byte messages."""
    per_connection = max(1, n // ECHO_CONNECTIONS)
    size = len(SMALL_MESSAGE)

    async def client(port: int) -> None:
        async with await anyio.connect_tcp(LOCALHOST, port) as stream:
            for _ in range(per_connection):
                await stream.send(SMALL_MESSAGE)
                got = 0
                while got < size:
                    got += len(await stream.receive())

    listener = await anyio.create_tcp_listener(local_host=LOCALHOST)
    port = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as server:
        server.start_soon(listener.serve, _echo_handler)
        async with anyio.create_task_group() as clients:
            for _ in range(ECHO_CONNECTIONS):
                clients.start_soon(client, port)
        server.cancel_scope.cancel()
    return per_connection * ECHO_CONNECTIONS


async def tcp_bulk(n: int) -> float:
    """One-way transfer of ``n`` MiB over one connection; returns MiB moved."""
    chunk = b"\0" * BULK_CHUNK
    chunks = n * (1024 * 1024 // BULK_CHUNK)
    received = 0
    done = anyio.Event()

    async def sink(stream: SocketStream) -> None:
        nonlocal received
        async with stream:
            try:
                while True:
                    received += len(await stream.receive(BULK_CHUNK))
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
        done.set()

    listener = await anyio.create_tcp_listener(local_host=LOCALHOST)
    port = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as server:
        server.start_soon(listener.serve, sink)
        async with await anyio.connect_tcp(LOCALHOST, port) as stream:
            send = stream.send
            for _ in range(chunks):
                await send(chunk)
        await done.wait()
        server.cancel_scope.cancel()
    assert received == chunks * BULK_CHUNK, (received, chunks * BULK_CHUNK)
    return received / (1024 * 1024)


async def udp_pingpong(n: int) -> float:
    """Datagram round trips between two ``create_udp_socket`` sockets."""
    async with (
        await anyio.create_udp_socket(local_host=LOCALHOST) as server,
        await anyio.create_udp_socket(local_host=LOCALHOST) as client,
    ):
        port = server.extra(SocketAttribute.local_port)

        async def echo() -> None:
            async for data, (host, peer_port) in server:
                await server.sendto(data, host, peer_port)

        async with anyio.create_task_group() as tg:
            tg.start_soon(echo)
            sendto = client.sendto
            receive = client.receive
            for _ in range(n):
                await sendto(SMALL_MESSAGE, LOCALHOST, port)
                await receive()
            tg.cancel_scope.cancel()
    return n


def _burn(iterations: int) -> int:
    """A short pure-Python CPU burst (no syscalls), like request parsing."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


async def busy_pingpong(n: int) -> WorkloadResult:
    """Latency of one TCP ping-pong while 100 other tasks keep the loop busy.

    The background tasks alternate a CPU burst of some 25 microseconds with
    a checkpoint, so the ready queue is never empty: this is where a loop's
    policy for how often it polls the OS while tasks are runnable shows up as
    tail latency. Self-timed: round trips/s of the measured connection plus
    its latency percentiles.
    """
    import time

    checkpoint = anyio.lowlevel.checkpoint
    samples: list[float] = []

    async def spinner() -> None:
        while True:
            _burn(BUSY_BURST)
            await checkpoint()

    listener = await anyio.create_tcp_listener(local_host=LOCALHOST)
    port = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, _echo_handler)
        for _ in range(BUSY_TASKS):
            tg.start_soon(spinner)
        async with await anyio.connect_tcp(LOCALHOST, port) as stream:
            clock = time.perf_counter
            started = clock()
            for _ in range(n):
                sent = clock()
                await stream.send(SMALL_MESSAGE)
                got = 0
                while got < len(SMALL_MESSAGE):
                    got += len(await stream.receive())
                samples.append(clock() - sent)
            seconds = clock() - started
        tg.cancel_scope.cancel()
    samples.sort()

    def percentile(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))] * 1000.0

    return {"ops": float(n), "seconds": seconds, "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99), "p999_ms": percentile(0.999)}


async def http_anycorn(n: int) -> WorkloadResult:
    """An ASGI app served by anycorn on this backend, loaded from another process.

    ``n`` is the load duration in seconds.  Self-timed: the load generator
    reports requests/s and latency percentiles.
    """
    from benchmarks.http_workload import serve_under_load

    return await serve_under_load(duration=n)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("checkpoint", checkpoint_loop, 150_000, 500, "ops/s",
                 "anyio.lowlevel.checkpoint() in a loop"),
        Workload("spawn", spawn_tasks, 30_000, 200, "tasks/s",
                 "start_soon a no-op child, task groups of 1000"),
        Workload("cancel_scope", cancel_scope_enter_exit, 150_000, 500, "ops/s",
                 "with CancelScope(): pass"),
        Workload("move_on_after", move_on_after_enter_exit, 100_000, 500, "ops/s",
                 "with move_on_after(60): pass"),
        Workload("timeout_expiry", timeout_expiry, 20_000, 100, "ops/s",
                 "with move_on_after(0): await sleep_forever()"),
        Workload("memory_stream", memory_stream_pingpong, 50_000, 200, "items/s",
                 "unbuffered memory object stream, producer -> consumer"),
        Workload("lock", lock_contention, 80_000, 200, "acquires/s",
                 "two tasks contending for one Lock"),
        Workload("event_pingpong", event_pingpong, 50_000, 200, "round trips/s",
                 "two tasks waking each other with Events"),
        Workload("sleep0_tasks", many_tasks_sleep0, 3000, 20, "sleeps/s",
                 "waves of 1000 tasks x 100 sleep(0)"),
        Workload("to_thread", to_thread_roundtrip, 5_000, 50, "calls/s",
                 "to_thread.run_sync(no-op) round trips"),
        Workload("tcp_echo", tcp_echo, 20_000, 100, "round trips/s",
                 "50 connections, 64-byte request/response"),
        Workload("tcp_bulk", tcp_bulk, 500, 4, "MiB/s",
                 "one-way transfer, 64 KiB writes"),
        Workload("udp_pingpong", udp_pingpong, 10_000, 50, "round trips/s",
                 "64-byte datagram round trips"),
        Workload("busy_pingpong", busy_pingpong, 500, 20, "round trips/s",
                 "TCP ping-pong while 100 tasks alternate CPU bursts and checkpoints"),
        Workload("http", http_anycorn, 2, 1, "req/s",
                 "anycorn ASGI hello-world under external load", warmup=False),
    )
}
