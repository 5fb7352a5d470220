"""A Lock whose owner exits without releasing it is broken, as in trio.

Its waiters, those already parked and those that come later, get
BrokenResourceError instead of waiting forever; so do tasks waiting to
re-acquire it through a Condition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

import pike
import pike.testing

if TYPE_CHECKING:
    from anyio.abc import TaskStatus


def _in_run(async_fn: Callable[[], Awaitable[Any]]) -> Callable[[], None]:
    def test() -> None:
        pike.run(async_fn)

    test.__name__ = async_fn.__name__
    return test


async def _hold_and_exit(lock: pike.Lock) -> None:
    await lock.acquire()


@_in_run
async def test_waiting_task_gets_broken_resource_error() -> None:
    lock = pike.Lock()
    outcomes: list[str] = []

    async def holder(task_status: pike.TaskStatus[None]) -> None:
        await lock.acquire()
        task_status.started()
        await pike.sleep(0.01)

    async def waiter() -> None:
        try:
            await lock.acquire()
        except pike.BrokenResourceError:
            outcomes.append("broken")
        else:
            outcomes.append("acquired")

    with pike.fail_after(10):
        async with pike.open_nursery() as nursery:
            await nursery.start(holder)
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)
    assert outcomes == ["broken", "broken"]


@_in_run
async def test_later_acquire_after_owner_exit_is_broken() -> None:
    lock = pike.Lock()
    async with pike.open_nursery() as nursery:
        nursery.start_soon(_hold_and_exit, lock)
    assert lock.locked()
    with pike.fail_after(10):
        with pytest.raises(pike.BrokenResourceError):
            await lock.acquire()
        with pytest.raises(pike.BrokenResourceError):
            async with lock:
                pass
    with pytest.raises(pike.WouldBlock):
        lock.acquire_nowait()


@_in_run
async def test_new_owner_after_hand_off_is_watched_too() -> None:
    # First owner releases properly, handing the lock to a waiter; that one
    # exits holding it: the remaining waiter must still be told.
    lock = pike.Lock()
    outcomes: list[str] = []

    async def first(task_status: pike.TaskStatus[None]) -> None:
        await lock.acquire()
        task_status.started()
        await pike.testing.wait_all_tasks_blocked()
        lock.release()

    async def second() -> None:
        await lock.acquire()
        outcomes.append("second owns")

    async def third() -> None:
        try:
            await lock.acquire()
        except pike.BrokenResourceError:
            outcomes.append("third broken")

    with pike.fail_after(10):
        async with pike.open_nursery() as nursery:
            await nursery.start(first)
            nursery.start_soon(second)
            await pike.testing.wait_all_tasks_blocked()
            nursery.start_soon(third)
    assert outcomes == ["second owns", "third broken"]


@_in_run
async def test_release_before_exit_does_not_break() -> None:
    lock = pike.Lock()
    got: list[str] = []

    async def owner(task_status: pike.TaskStatus[None]) -> None:
        async with lock:
            task_status.started()
            await pike.testing.wait_all_tasks_blocked()

    async def waiter() -> None:
        async with lock:
            got.append("ok")

    with pike.fail_after(10):
        async with pike.open_nursery() as nursery:
            await nursery.start(owner)
            nursery.start_soon(waiter)
        async with lock:
            got.append("later")
    assert got == ["ok", "later"]


@_in_run
async def test_condition_notified_waiter_sees_broken_lock() -> None:
    cond = pike.Condition()
    outcomes: list[str] = []

    async def waiter() -> None:
        await cond.acquire()
        try:
            await cond.wait()
        except pike.BrokenResourceError:
            # The lock was never re-acquired, so there is nothing to release.
            outcomes.append("broken")
        else:
            cond.release()

    async def notifier_exits_holding() -> None:
        await cond.acquire()
        cond.notify_all()

    with pike.fail_after(10):
        async with pike.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await pike.testing.wait_all_tasks_blocked()
            nursery.start_soon(notifier_exits_holding)
    assert outcomes == ["broken"]


def test_anyio_lock_on_pike_is_broken_too() -> None:
    anyio = pytest.importorskip("anyio")
    outcomes: list[str] = []

    async def main() -> None:
        lock = anyio.Lock()

        async def holder(*, task_status: TaskStatus[None]) -> None:
            await lock.acquire()
            task_status.started()

        async with anyio.create_task_group() as tg:
            await tg.start(holder)
        with anyio.fail_after(10):
            try:
                await lock.acquire()
            except pike.BrokenResourceError:
                outcomes.append("broken")

    anyio.run(main, backend="pike")
    assert outcomes == ["broken"]
