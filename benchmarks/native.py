"""Native kernel workloads: the same code on ``pike`` and ``trio``, module swapped.

pike's public API is trio-shaped, so each workload takes the module (``pike``
or ``trio``) as its first argument and uses only names both share
(``lowlevel.checkpoint``, ``open_nursery``, ``CancelScope``, ``move_on_after``,
``Event``, ``sleep``).  This measures the kernels without anyio's adapter
layer in between: the gap between a native ratio and the matching anyio ratio
is what the adapter costs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.workloads import SLEEP_WAVE, SLEEPS_PER_TASK, SPAWN_BATCH


@dataclass(frozen=True)
class NativeWorkload:
    """One native program and how big to make it."""

    name: str
    func: Callable[[Any, int], Awaitable[float]]
    size: int
    smoke_size: int
    unit: str
    what: str


async def checkpoint_loop(mod: Any, n: int) -> float:
    """The cheapest yield, without anyio's wrapper."""
    checkpoint = mod.lowlevel.checkpoint
    for _ in range(n):
        await checkpoint()
    return n


async def _noop() -> None:
    pass


async def spawn_tasks(mod: Any, n: int) -> float:
    """Spawn-and-join cost of trivial children, nurseries of 1000."""
    done = 0
    while done < n:
        batch = min(SPAWN_BATCH, n - done)
        async with mod.open_nursery() as nursery:
            start_soon = nursery.start_soon
            for _ in range(batch):
                start_soon(_noop)
        done += batch
    return n


async def cancel_scope_enter_exit(mod: Any, n: int) -> float:
    """``with CancelScope(): pass``."""
    cancel_scope = mod.CancelScope
    for _ in range(n):
        with cancel_scope():
            pass
    return n


async def move_on_after_enter_exit(mod: Any, n: int) -> float:
    """``with move_on_after(60): pass``: scope plus deadline bookkeeping."""
    move_on_after = mod.move_on_after
    for _ in range(n):
        with move_on_after(60):
            pass
    return n


async def event_pingpong(mod: Any, n: int) -> float:
    """Two tasks waking each other through fresh one-shot Events (park/wake)."""
    event = mod.Event
    ping = [event()]
    pong = [event()]

    async def ponger() -> None:
        for _ in range(n):
            await ping[0].wait()
            ping[0] = event()
            pong[0].set()

    async with mod.open_nursery() as nursery:
        nursery.start_soon(ponger)
        for _ in range(n):
            ping[0].set()
            await pong[0].wait()
            pong[0] = event()
    return n


async def many_tasks_sleep0(mod: Any, n: int) -> float:
    """``n`` tasks in waves of 1000, each doing 100 ``sleep(0)``: scheduler throughput."""
    sleep = mod.sleep

    async def sleeper() -> None:
        for _ in range(SLEEPS_PER_TASK):
            await sleep(0)

    done = 0
    while done < n:
        wave = min(SLEEP_WAVE, n - done)
        async with mod.open_nursery() as nursery:
            for _ in range(wave):
                nursery.start_soon(sleeper)
        done += wave
    return n * SLEEPS_PER_TASK


async def memory_channel_pingpong(mod: Any, n: int) -> float:
    """The native twin of ``memory_stream``: an unbuffered memory channel, so
    every send is a rendezvous of producer and consumer."""
    send, receive = mod.open_memory_channel(0)

    async def producer() -> None:
        async with send:
            for i in range(n):
                await send.send(i)

    received = 0
    async with mod.open_nursery() as nursery:
        nursery.start_soon(producer)
        async with receive:
            async for _ in receive:
                received += 1
    assert received == n, (received, n)
    return n


NATIVE_WORKLOADS: dict[str, NativeWorkload] = {
    w.name: w
    for w in (
        NativeWorkload("checkpoint", checkpoint_loop, 300_000, 500, "ops/s",
                       "lowlevel.checkpoint() in a loop"),
        NativeWorkload("spawn", spawn_tasks, 60_000, 200, "tasks/s",
                       "start_soon a no-op child, nurseries of 1000"),
        NativeWorkload("cancel_scope", cancel_scope_enter_exit, 200_000, 500, "ops/s",
                       "with CancelScope(): pass"),
        NativeWorkload("move_on_after", move_on_after_enter_exit, 150_000, 500, "ops/s",
                       "with move_on_after(60): pass"),
        NativeWorkload("event_pingpong", event_pingpong, 60_000, 200, "round trips/s",
                       "two tasks waking each other with Events"),
        NativeWorkload("sleep0_tasks", many_tasks_sleep0, 3000, 20, "sleeps/s",
                       "waves of 1000 tasks x 100 sleep(0)"),
        NativeWorkload("memory_channel", memory_channel_pingpong, 50_000, 200, "items/s",
                       "unbuffered open_memory_channel, producer to consumer"),
    )
}
