"""Event, Lock, StrictFIFOLock, Semaphore, Condition, CapacityLimiter."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock, wait_all_tasks_blocked


def run_mock(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0))


# -- Event -----------------------------------------------------------------------------


def test_event_wakes_all_waiters_in_order() -> None:
    async def main() -> list[int]:
        event = pike.Event()
        order: list[int] = []

        async def waiter(i: int) -> None:
            await event.wait()
            order.append(i)

        async with pike.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(waiter, i)
            await wait_all_tasks_blocked()
            assert event.statistics().tasks_waiting == 5
            assert not event.is_set()
            event.set()
            assert event.is_set()
        return order

    assert pike.run(main) == [0, 1, 2, 3, 4]


def test_event_set_twice_and_wait_after_set_is_checkpoint() -> None:
    async def main() -> None:
        event = pike.Event()
        event.set()
        event.set()
        await event.wait()
        with pike.CancelScope() as scope:
            scope.cancel()
            await event.wait()  # already set, but still a checkpoint
            pytest.fail("wait() on a set event must still be a checkpoint")
        assert scope.cancelled_caught

    pike.run(main)


def test_event_cancelled_waiter_removed() -> None:
    async def main() -> None:
        event = pike.Event()
        with pike.move_on_after(1):
            await event.wait()
        assert event.statistics().tasks_waiting == 0
        event.set()

    run_mock(main)


# -- Lock ------------------------------------------------------------------------------


@pytest.mark.parametrize("lock_cls", [pike.Lock, pike.StrictFIFOLock])
def test_lock_mutual_exclusion_and_fifo(lock_cls: type[pike.Lock]) -> None:
    async def main() -> list[str]:
        lock = lock_cls()
        log: list[str] = []

        async def worker(i: int) -> None:
            async with lock:
                log.append(f"in {i}")
                await pike.sleep(1)
                log.append(f"out {i}")

        async with pike.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(worker, i)
                await wait_all_tasks_blocked()  # enforce arrival order
        return log

    assert run_mock(main) == ["in 0", "out 0", "in 1", "out 1", "in 2", "out 2"]


def test_lock_no_barging() -> None:
    # release() hands the lock to the oldest waiter; the releaser (or anyone
    # else) trying to grab it again before the waiter runs must not get it.
    async def main() -> list[str]:
        lock = pike.Lock()
        log: list[str] = []
        waiter_task: list[lowlevel.Task] = []

        async def waiter() -> None:
            waiter_task.append(lowlevel.current_task())
            async with lock:
                log.append("waiter")

        async with pike.open_nursery() as nursery:
            await lock.acquire()
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            lock.release()
            assert lock.statistics().owner is waiter_task[0]
            with pytest.raises(pike.WouldBlock):
                lock.acquire_nowait()
            async with lock:
                log.append("releaser again")
        return log

    assert pike.run(main) == ["waiter", "releaser again"]


def test_lock_errors_and_statistics() -> None:
    async def main() -> None:
        lock = pike.Lock()
        assert not lock.locked()
        with pytest.raises(RuntimeError):
            lock.release()
        await lock.acquire()
        assert lock.locked()
        stats = lock.statistics()
        assert stats.locked
        assert stats.owner is lowlevel.current_task()
        assert stats.tasks_waiting == 0
        with pytest.raises(RuntimeError):
            lock.acquire_nowait()  # re-acquire by owner

        async def other() -> None:
            with pytest.raises(RuntimeError):
                lock.release()  # not the owner
            with pytest.raises(pike.WouldBlock):
                lock.acquire_nowait()

        async with pike.open_nursery() as nursery:
            nursery.start_soon(other)
        lock.release()
        assert not lock.locked()

    pike.run(main)


def test_lock_acquire_is_checkpoint_even_if_free() -> None:
    async def main() -> None:
        lock = pike.Lock()
        with pike.CancelScope() as scope:
            scope.cancel()
            await lock.acquire()
        assert scope.cancelled_caught
        assert not lock.locked()

    pike.run(main)


def test_lock_cancelled_waiter_does_not_get_lock() -> None:
    async def main() -> None:
        lock = pike.Lock()
        await lock.acquire()
        with pike.move_on_after(1) as scope:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(lock.acquire)
                await wait_all_tasks_blocked()
                assert lock.statistics().tasks_waiting == 1
        assert scope.cancelled_caught
        assert lock.statistics().tasks_waiting == 0
        assert lock.statistics().owner is lowlevel.current_task()
        lock.release()
        assert not lock.locked()

    run_mock(main)


# -- Semaphore -------------------------------------------------------------------------


def test_semaphore_limits_concurrency() -> None:
    async def main() -> int:
        sem = pike.Semaphore(2)
        running = 0
        peak = 0

        async def worker() -> None:
            nonlocal running, peak
            async with sem:
                running += 1
                peak = max(peak, running)
                await pike.sleep(1)
                running -= 1

        async with pike.open_nursery() as nursery:
            for _ in range(6):
                nursery.start_soon(worker)
        assert sem.value == 2
        return peak

    assert run_mock(main) == 2


def test_semaphore_fifo_and_nowait() -> None:
    async def main() -> list[int]:
        sem = pike.Semaphore(0)
        order: list[int] = []

        async def worker(i: int) -> None:
            await sem.acquire()
            order.append(i)

        async with pike.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(worker, i)
                await wait_all_tasks_blocked()
            assert sem.statistics().tasks_waiting == 3
            with pytest.raises(pike.WouldBlock):
                sem.acquire_nowait()
            for _ in range(3):
                sem.release()
        assert sem.value == 0
        return order

    assert pike.run(main) == [0, 1, 2]


def test_semaphore_validation() -> None:
    with pytest.raises(ValueError):
        pike.Semaphore(-1)
    with pytest.raises(TypeError):
        pike.Semaphore(1.5)  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError):
        pike.Semaphore(3, max_value=2)
    sem = pike.Semaphore(1, max_value=1)
    assert sem.max_value == 1
    with pytest.raises(ValueError):
        sem.release()


def test_semaphore_cancelled_waiter_loses_nothing() -> None:
    async def main() -> None:
        sem = pike.Semaphore(0)
        with pike.move_on_after(1):
            await sem.acquire()
        assert sem.statistics().tasks_waiting == 0
        sem.release()
        assert sem.value == 1

    run_mock(main)


# -- Condition -------------------------------------------------------------------------


def test_condition_wait_notify() -> None:
    async def main() -> list[str]:
        cond = pike.Condition()
        log: list[str] = []
        items: list[int] = []

        async def consumer(i: int) -> None:
            async with cond:
                while not items:
                    await cond.wait()
                    assert cond.locked()
                log.append(f"consumer {i} got {items.pop(0)}")

        async with pike.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(consumer, i)
                await wait_all_tasks_blocked()
            assert cond.statistics().tasks_waiting == 3
            async with cond:
                items.append(10)
                cond.notify()
            await wait_all_tasks_blocked()
            async with cond:
                items.extend([20, 30])
                cond.notify_all()
        return log

    assert pike.run(main) == ["consumer 0 got 10", "consumer 1 got 20", "consumer 2 got 30"]


def test_condition_requires_lock() -> None:
    async def main() -> None:
        cond = pike.Condition()
        with pytest.raises(RuntimeError):
            await cond.wait()
        with pytest.raises(RuntimeError):
            cond.notify()
        with pytest.raises(RuntimeError):
            cond.notify_all()

    pike.run(main)
    with pytest.raises(TypeError):
        pike.Condition(pike.Semaphore(1))  # type: ignore[arg-type]  # wrong on purpose


def test_condition_cancelled_wait_reacquires_lock() -> None:
    async def main() -> None:
        cond = pike.Condition()
        async with cond:
            with pike.move_on_after(1) as scope:
                await cond.wait()
            assert scope.cancelled_caught
            assert cond.locked()
            assert cond.statistics().lock_statistics.owner is lowlevel.current_task()
        assert not cond.locked()

    run_mock(main)


def test_condition_cancelled_after_notify_while_waiting_for_lock() -> None:
    # Notified (moved to the lock's queue), then cancelled before getting the
    # lock: it must still re-acquire the lock before raising Cancelled.
    async def main() -> None:
        cond = pike.Condition()
        log: list[str] = []
        scope = pike.CancelScope()

        async def waiter() -> None:
            with scope:
                async with cond:
                    try:
                        await cond.wait()
                    except pike.Cancelled:
                        log.append(f"cancelled, holds lock: {cond.locked()}")
                        raise

        async with pike.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            async with cond:
                cond.notify()
                scope.cancel()
                await wait_all_tasks_blocked()
                assert log == []  # it waits for us to release the lock
        assert log == ["cancelled, holds lock: True"]
        assert not cond.locked()

    pike.run(main)


# -- CapacityLimiter -------------------------------------------------------------------


def test_capacity_limiter_basics() -> None:
    async def main() -> None:
        limiter = pike.CapacityLimiter(2)
        assert limiter.total_tokens == 2
        assert limiter.available_tokens == 2
        await limiter.acquire()
        assert limiter.borrowed_tokens == 1
        with pytest.raises(RuntimeError):
            await limiter.acquire()  # same borrower twice
        await limiter.acquire_on_behalf_of("other")
        assert limiter.available_tokens == 0
        stats = limiter.statistics()
        assert isinstance(stats, pike.CapacityLimiterStatistics)
        assert stats.borrowed_tokens == 2
        assert set(stats.borrowers) == {lowlevel.current_task(), "other"}
        with pytest.raises(pike.WouldBlock):
            limiter.acquire_on_behalf_of_nowait("third")
        limiter.release()
        with pytest.raises(RuntimeError):
            limiter.release()
        limiter.release_on_behalf_of("other")
        assert limiter.borrowed_tokens == 0

    pike.run(main)


def test_capacity_limiter_fifo_and_raising_total() -> None:
    async def main() -> list[int]:
        limiter = pike.CapacityLimiter(1)
        order: list[int] = []

        async def worker(i: int) -> None:
            async with limiter:
                order.append(i)
                await pike.sleep_forever()

        async with pike.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(worker, i)
                await wait_all_tasks_blocked()
            assert order == [0]
            assert limiter.statistics().tasks_waiting == 3
            limiter.total_tokens = 3
            await wait_all_tasks_blocked()
            assert order == [0, 1, 2]
            limiter.total_tokens = math.inf
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        return order

    assert pike.run(main) == [0, 1, 2, 3]


def test_capacity_limiter_validation() -> None:
    with pytest.raises(TypeError):
        pike.CapacityLimiter(1.5)
    with pytest.raises(ValueError):
        pike.CapacityLimiter(-1)
    assert pike.CapacityLimiter(math.inf).total_tokens == math.inf


def test_capacity_limiter_cancelled_waiter() -> None:
    async def main() -> None:
        limiter = pike.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        with pike.move_on_after(1):
            await limiter.acquire()
        assert limiter.statistics().tasks_waiting == 0
        limiter.release_on_behalf_of("holder")
        assert limiter.borrowed_tokens == 0
        await limiter.acquire()
        limiter.release()

    run_mock(main)


def test_releasing_an_unlocked_lock_is_an_error_inside_and_outside_a_run() -> None:
    lock = pike.Lock()
    with pytest.raises(RuntimeError, match="don't own"):
        lock.release()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="don't own"):
            lock.release()

    pike.run(main)
