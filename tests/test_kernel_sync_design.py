"""Design points of pike's Semaphore, Condition, CapacityLimiter and MockClock."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike.testing import MockClock, wait_all_tasks_blocked


def run_mock(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0))


# -- Semaphore -------------------------------------------------------------------------


def test_semaphore_errors_name_the_argument_and_bound() -> None:
    with pytest.raises(TypeError, match="initial_value must be an int, not float"):
        pike.Semaphore(1.0)  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError, match="initial_value must be >= 0, got -1"):
        pike.Semaphore(-1)
    with pytest.raises(TypeError, match="max_value must be an int, not str"):
        pike.Semaphore(1, max_value="2")  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError, match="max_value must be >= 3, got 2"):
        pike.Semaphore(3, max_value=2)


def test_semaphore_bounded_and_unbounded_release() -> None:
    async def main() -> None:
        bounded = pike.Semaphore(0, max_value=1)
        assert bounded.max_value == 1
        bounded.release()
        with pytest.raises(ValueError, match="released too many times"):
            bounded.release()
        assert bounded.value == 1
        unbounded = pike.Semaphore(0)
        assert unbounded.max_value is None
        for _ in range(5):
            unbounded.release()
        assert unbounded.value == 5
        assert "max_value=None" in repr(unbounded)

    pike.run(main)


# -- Condition -------------------------------------------------------------------------


class _MyLock(pike.Lock):
    __slots__ = ()


def test_condition_takes_lock_subclasses_and_refuses_other_types() -> None:
    assert pike.Condition(_MyLock()).locked() is False
    with pytest.raises(TypeError, match=r"pike\.Lock, not Semaphore"):
        pike.Condition(pike.Semaphore(1))  # type: ignore[arg-type]  # wrong on purpose


def test_condition_notified_waiters_wake_owning_the_lock_in_order() -> None:
    async def main() -> list[tuple[int, bool]]:
        cond = pike.Condition(_MyLock())
        woke: list[tuple[int, bool]] = []

        async def waiter(i: int) -> None:
            async with cond:
                await cond.wait()
                owner = cond.statistics().lock_statistics.owner
                woke.append((i, owner is pike.lowlevel.current_task()))

        async with pike.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(waiter, i)
            await wait_all_tasks_blocked()
            async with cond:
                cond.notify(2)
                assert cond.statistics().tasks_waiting == 2
                assert cond.statistics().lock_statistics.tasks_waiting == 2
            await wait_all_tasks_blocked()
            async with cond:
                cond.notify_all()
        return woke

    assert run_mock(main) == [(0, True), (1, True), (2, True), (3, True)]


def test_condition_notify_rejects_negative_and_needs_the_lock() -> None:
    async def main() -> None:
        cond = pike.Condition()
        with pytest.raises(RuntimeError, match="must hold the lock to notify"):
            cond.notify()
        with pytest.raises(RuntimeError, match="must hold the lock to wait"):
            await cond.wait()
        async with cond:
            with pytest.raises(ValueError, match="n must be >= 0"):
                cond.notify(-1)
            cond.notify(0)  # nobody waits: a no-op

    pike.run(main)


# -- CapacityLimiter ---------------------------------------------------------------------


def test_capacity_limiter_cancelled_waiter_leaves_no_trace() -> None:
    async def main() -> None:
        limiter = pike.CapacityLimiter(1)
        await limiter.acquire()
        with pike.move_on_after(1):
            await limiter.acquire_on_behalf_of("late")
        assert limiter.statistics().tasks_waiting == 0
        limiter.release()
        # The cancelled borrower was never recorded, and the token is free again.
        assert limiter.borrowed_tokens == 0
        limiter.acquire_on_behalf_of_nowait("late")
        assert limiter.statistics().borrowers == ["late"]

    run_mock(main)


def test_capacity_limiter_hands_each_waiter_its_own_borrower() -> None:
    async def main() -> list[object]:
        limiter = pike.CapacityLimiter(0)
        got: list[object] = []

        async def borrow(name: str) -> None:
            await limiter.acquire_on_behalf_of(name)
            got.append(name)

        async with pike.open_nursery() as nursery:
            for name in ("a", "b", "c"):
                nursery.start_soon(borrow, name)
            await wait_all_tasks_blocked()
            limiter.total_tokens = 2
            await wait_all_tasks_blocked()
            assert set(limiter.statistics().borrowers) == {"a", "b"}
            limiter.release_on_behalf_of("a")
        with pytest.raises(RuntimeError, match="isn't holding"):
            limiter.release_on_behalf_of("a")
        return got

    assert run_mock(main) == ["a", "b", "c"]


# -- MockClock ---------------------------------------------------------------------------


def test_mock_clock_rate_change_keeps_the_reading_and_jumps_add() -> None:
    clock = MockClock()
    clock.jump(5)
    assert clock.current_time() == 5.0
    clock.rate = 2
    before = clock.current_time()
    assert before >= 5.0
    clock.rate = 0
    frozen = clock.current_time()
    assert frozen >= before
    assert clock.current_time() == frozen
    assert clock.deadline_to_sleep_time(frozen + 1) == math.inf
    assert clock.deadline_to_sleep_time(frozen - 1) == 0.0
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="backwards"):
            clock.jump(bad)
        with pytest.raises(ValueError, match="rate"):
            clock.rate = bad
    assert clock.current_time() == frozen


def test_mock_clock_autojump_lands_on_the_deadline() -> None:
    clock = MockClock(autojump_threshold=0)

    async def main() -> float:
        start = pike.current_time()
        await pike.sleep(3600)
        return pike.current_time() - start

    assert pike.run(main, clock=clock) == 3600.0
