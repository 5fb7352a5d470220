"""Nothing outlives pike.run: no fds, no threads, no tasks."""

from __future__ import annotations

import gc
import os
import socket
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike.testing import wait_all_tasks_blocked


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def live_threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def check_no_leaks(notifier: str, async_fn: Callable[[], Awaitable[Any]]) -> None:
    """Run ``async_fn``; its exception (if any) propagates after the leak checks."""
    gc.collect()
    fds_before = open_fds()
    threads_before = live_threads()
    error: BaseException | None = None
    try:
        pike.run(async_fn, notifier=notifier)
    except BaseException as exc:
        error = exc
    # measured right away: run must have cleaned up before returning
    fds_after = open_fds()
    threads_after = live_threads()
    assert fds_after - fds_before == set(), "fds left open by pike.run"
    assert threads_after - threads_before == set(), "threads left running by pike.run"
    if error is not None:
        raise error


async def trivial() -> None:
    await pike.sleep(0)


async def uses_sockets() -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        async with pike.open_nursery() as nursery:

            async def writer() -> None:
                await wait_all_tasks_blocked()
                b.send(b"x")

            nursery.start_soon(writer)
            await lowlevel.wait_readable(a)
            await lowlevel.wait_writable(a)
        lowlevel.notify_closing(a)
    finally:
        a.close()
        b.close()


async def uses_threads() -> None:
    async with pike.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(pike.to_thread.run_sync, lambda: None)
    for _ in range(5):
        await pike.to_thread.run_sync(lambda: None)


async def uses_from_thread() -> None:
    async def afn() -> int:
        return 1

    def work() -> int:
        return pike.from_thread.run(afn) + pike.from_thread.run_sync(lambda: 1)

    assert await pike.to_thread.run_sync(work) == 2


async def raises() -> None:
    await pike.to_thread.run_sync(lambda: None)
    raise ValueError("main failed")


async def token_from_thread() -> None:
    token = lowlevel.current_token()
    done = pike.Event()
    t = threading.Thread(target=lambda: token.run_sync_soon(done.set))
    t.start()
    await done.wait()
    t.join()


@pytest.mark.parametrize(
    "workload", [trivial, uses_sockets, uses_threads, uses_from_thread, token_from_thread]
)
def test_no_fd_or_thread_left(notifier: str, workload: Callable[[], Awaitable[Any]]) -> None:
    check_no_leaks(notifier, workload)


def test_no_fd_or_thread_left_when_main_raises(notifier: str) -> None:
    with pytest.raises(ValueError, match="main failed"):
        check_no_leaks(notifier, raises)


def test_no_thread_left_repeated_to_thread_runs() -> None:
    # Many short runs using threads: any worker that escapes shutdown shows up.
    gc.collect()
    threads_before = live_threads()
    fds_before = open_fds()
    leaked: list[set[threading.Thread]] = []
    for _ in range(30):
        pike.run(uses_threads)
        extra = live_threads() - threads_before
        if extra:
            leaked.append(extra)
    assert leaked == []
    assert open_fds() - fds_before == set()


def test_no_fd_left_after_run_inside_run_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError):
            pike.run(trivial)

    fds_before = open_fds()
    pike.run(main)
    assert open_fds() - fds_before == set()


def test_no_fd_left_after_bad_input() -> None:
    fds_before = open_fds()
    with pytest.raises(TypeError):
        pike.run(lambda: None)  # type: ignore[arg-type,return-value]  # wrong on purpose
    with pytest.raises(TypeError):
        pike.run(trivial())  # type: ignore[arg-type]  # wrong on purpose
    assert open_fds() - fds_before == set()


def test_tasks_are_collectable_after_run() -> None:
    refs: list[weakref.ref[Any]] = []

    async def child() -> None:
        refs.append(weakref.ref(lowlevel.current_task()))
        await pike.sleep(0)

    async def main() -> None:
        refs.append(weakref.ref(lowlevel.current_task()))
        async with pike.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(child)

    pike.run(main)
    gc.collect()
    assert [r() for r in refs] == [None] * 4
