"""sleep / sleep_until / sleep_forever, clocks, MockClock, wait_all_tasks_blocked."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock, wait_all_tasks_blocked


def run_mock(async_fn: Callable[[], Awaitable[Any]], **kw: Any) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0, **kw))


# -- sleep ---------------------------------------------------------------------------


def test_sleep_real_clock_waits_at_least() -> None:
    async def main() -> float:
        start = time.monotonic()
        await pike.sleep(0.05)
        return time.monotonic() - start

    assert pike.run(main) >= 0.05


def test_sleep_mock_clock_exact() -> None:
    async def main() -> None:
        start = pike.current_time()
        await pike.sleep(3.5)
        assert pike.current_time() - start == 3.5
        await pike.sleep_until(start + 10)
        assert pike.current_time() == start + 10
        await pike.sleep_until(start)  # in the past: returns (after a checkpoint)
        assert pike.current_time() == start + 10

    run_mock(main)


def test_sleep_zero_is_a_checkpoint() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            await pike.sleep(0)
            pytest.fail("sleep(0) must be a checkpoint")
        assert scope.cancelled_caught

    pike.run(main)


def test_sleep_until_past_is_a_checkpoint() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            await pike.sleep_until(pike.current_time() - 5)
            pytest.fail("sleep_until(past) must be a checkpoint")
        assert scope.cancelled_caught

    pike.run(main)


def test_sleep_forever_until_cancelled() -> None:
    async def main() -> None:
        with pike.move_on_after(100) as scope:
            await pike.sleep_forever()
        assert scope.cancelled_caught

    run_mock(main)


def test_negative_sleep_is_an_error() -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            await pike.sleep(-1)
        with pytest.raises(ValueError):
            await pike.sleep(-math.inf)
        with pytest.raises(ValueError):
            await pike.sleep(math.nan)
        with pytest.raises(TypeError):
            await pike.sleep("1")  # type: ignore[arg-type]  # wrong on purpose
        with pytest.raises(ValueError):
            await pike.sleep_until(math.nan)

    pike.run(main)


def test_sleep_inf_is_sleep_forever() -> None:
    async def main() -> None:
        with pike.move_on_after(1000) as scope:
            await pike.sleep(math.inf)
        assert scope.cancelled_caught

    run_mock(main)


def test_sleep_cancelled_while_parked() -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(pike.sleep, 100)
            await pike.sleep(1)
            nursery.cancel_scope.cancel()
        assert pike.current_time() == 1

    pike.run(main, clock=MockClock(autojump_threshold=0))


# -- MockClock -------------------------------------------------------------------------


def test_mock_clock_default_is_stopped_and_jumps() -> None:
    clock = MockClock()
    t0 = clock.current_time()
    time.sleep(0.01)
    assert clock.current_time() == t0
    clock.jump(5)
    assert clock.current_time() == t0 + 5
    with pytest.raises(ValueError):
        clock.jump(-1)


def test_mock_clock_rate() -> None:
    clock = MockClock(rate=1000)
    t0 = clock.current_time()
    time.sleep(0.01)
    assert clock.current_time() - t0 >= 10 - 1e-6
    with pytest.raises(ValueError):
        MockClock(rate=-1)
    clock.rate = 0
    t1 = clock.current_time()
    time.sleep(0.005)
    assert clock.current_time() == t1


def test_mock_clock_autojump_validation() -> None:
    with pytest.raises(ValueError):
        MockClock(autojump_threshold=-1)
    with pytest.raises(ValueError):
        MockClock(autojump_threshold=math.nan)


def test_mock_clock_without_autojump_manual_jump() -> None:
    clock = MockClock()

    async def main() -> list[str]:
        log: list[str] = []

        async def sleeper() -> None:
            await pike.sleep(10)
            log.append("woke")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            clock.jump(5)
            await wait_all_tasks_blocked()
            assert log == []
            clock.jump(5)
        return log

    assert pike.run(main, clock=clock) == ["woke"]


def test_mock_clock_autojump_enabled_mid_run() -> None:
    clock = MockClock()

    async def main() -> float:
        async with pike.open_nursery() as nursery:

            async def enable() -> None:
                await wait_all_tasks_blocked()
                clock.autojump_threshold = 0

            nursery.start_soon(enable)
            start = pike.current_time()
            await pike.sleep(1000)
        return pike.current_time() - start

    assert pike.run(main, clock=clock) == 1000


def test_mock_clock_autojump_threshold_real_time() -> None:
    # With a nonzero threshold the jump happens only after the run was idle
    # for that long in real time.
    clock = MockClock(autojump_threshold=0.02)

    async def main() -> tuple[float, float]:
        real = time.monotonic()
        start = pike.current_time()
        await pike.sleep(1000)
        return pike.current_time() - start, time.monotonic() - real

    virtual, real = pike.run(main, clock=clock)
    assert virtual == 1000
    assert real >= 0.02


def test_current_clock_is_the_one_passed() -> None:
    clock = MockClock()

    async def main() -> Any:
        return lowlevel.current_clock()

    assert pike.run(main, clock=clock) is clock


def test_mock_clock_repr() -> None:
    assert "MockClock" in repr(MockClock())


# -- wait_all_tasks_blocked ------------------------------------------------------------


def test_wait_all_tasks_blocked_basic() -> None:
    log: list[str] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await lowlevel.checkpoint()
        log.append(f"worker {n} parked")
        await pike.sleep_forever()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            for n in (1, 5, 20):
                nursery.start_soon(worker, n)
            await wait_all_tasks_blocked()
            log.append("all blocked")
            nursery.cancel_scope.cancel()

    pike.run(main)
    assert log == ["worker 1 parked", "worker 5 parked", "worker 20 parked", "all blocked"]


def test_wait_all_tasks_blocked_with_cushion() -> None:
    async def main() -> float:
        real = time.monotonic()
        await wait_all_tasks_blocked(0.05)
        return time.monotonic() - real

    assert pike.run(main) >= 0.05


def test_wait_all_tasks_blocked_smaller_cushion_first() -> None:
    log: list[str] = []

    async def waiter(cushion: float) -> None:
        await wait_all_tasks_blocked(cushion)
        log.append(f"{cushion}")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(waiter, 0.02)
            nursery.start_soon(waiter, 0.0)
            nursery.start_soon(waiter, 0.01)

    pike.run(main)
    assert log == ["0.0", "0.01", "0.02"]


def test_wait_all_tasks_blocked_bad_cushion() -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            await wait_all_tasks_blocked(-1)
        with pytest.raises(ValueError):
            await wait_all_tasks_blocked(math.nan)

    pike.run(main)


def test_wait_all_tasks_blocked_cancellable() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            await wait_all_tasks_blocked()
        assert scope.cancelled_caught

        async def busy() -> None:
            while True:
                await lowlevel.checkpoint()

        async with pike.open_nursery() as nursery:
            nursery.start_soon(busy)
            with pike.move_on_after(0.05) as scope:
                await wait_all_tasks_blocked()  # never true: busy never blocks
            assert scope.cancelled_caught
            nursery.cancel_scope.cancel()

    pike.run(main)


def test_wait_all_tasks_blocked_takes_priority_over_autojump() -> None:
    # trio: with MockClock(autojump_threshold=0), wait_all_tasks_blocked() (cushion
    # 0) wakes before the clock jumps to the next deadline.
    async def main() -> list[str]:
        log: list[str] = []

        async def sleeper() -> None:
            await pike.sleep(10)
            log.append("sleeper woke")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            log.append(f"all blocked at {pike.current_time()}")
        return log

    clock = MockClock(autojump_threshold=0)
    start = clock.current_time()
    log = pike.run(main, clock=clock)
    assert log == [f"all blocked at {start}", "sleeper woke"]
