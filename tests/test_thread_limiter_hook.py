"""pike.to_thread.set_default_thread_limiter: a library chooses the run's default limiter."""

from __future__ import annotations

import threading

import anyio
import pytest
from _thread_support import check_limiter_bounds_threads

import pike
from pike.testing import wait_all_tasks_blocked


class _TaggedLimiter(pike.CapacityLimiter):
    """Stands in for a library's own limiter type."""

    __slots__ = ()


def test_chosen_limiter_bounds_default_to_thread_calls() -> None:
    async def main() -> None:
        chosen = _TaggedLimiter(2)
        pike.to_thread.set_default_thread_limiter(chosen)
        assert pike.to_thread.current_default_thread_limiter() is chosen
        assert pike.lowlevel.current_default_thread_limiter() is chosen
        await check_limiter_bounds_threads(chosen, calls=5)

    pike.run(main)


def test_replaced_limiter_keeps_its_running_threads_tokens() -> None:
    async def main() -> None:
        first = pike.to_thread.current_default_thread_limiter()
        gate = threading.Event()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(pike.to_thread.run_sync, gate.wait, 10)
            await wait_all_tasks_blocked()
            assert first.borrowed_tokens == 1
            second = pike.CapacityLimiter(1)
            pike.to_thread.set_default_thread_limiter(second)
            assert second.borrowed_tokens == 0
            gate.set()
        assert first.borrowed_tokens == 0

    pike.run(main)


def test_choice_ends_with_the_run() -> None:
    chosen = pike.CapacityLimiter(3)

    async def choose() -> None:
        pike.to_thread.set_default_thread_limiter(chosen)

    async def look() -> pike.CapacityLimiter:
        return pike.to_thread.current_default_thread_limiter()

    pike.run(choose)
    fresh = pike.run(look)
    assert fresh is not chosen
    assert fresh.total_tokens == 40


@pytest.mark.parametrize("bad", [None, 3, pike.Semaphore(1), object()])
def test_rejects_what_is_not_a_pike_capacity_limiter(bad: object) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match=r"pike\.CapacityLimiter"):
            # The wrong type is the point of this call (the ignore below).
            pike.to_thread.set_default_thread_limiter(bad)  # type: ignore[arg-type]

    pike.run(main)


def test_outside_a_run_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="inside a pike run"):
        pike.to_thread.set_default_thread_limiter(pike.CapacityLimiter(1))


def test_anyio_default_limiter_is_pikes_default() -> None:
    """On the pike backend, anyio's default limiter is the one pike's to_thread uses."""

    async def main() -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        assert isinstance(limiter, anyio.CapacityLimiter)
        assert isinstance(limiter, pike.CapacityLimiter)
        assert limiter is pike.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        gate = threading.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(pike.to_thread.run_sync, gate.wait, 10)
            tg.start_soon(anyio.to_thread.run_sync, gate.wait, 10)
            await pike.testing.wait_all_tasks_blocked()
            assert limiter.borrowed_tokens == 1
            assert limiter.statistics().tasks_waiting == 1
            gate.set()
        assert limiter.borrowed_tokens == 0

    anyio.run(main, backend="pike")


def test_anyio_statistics_satisfy_both_libraries() -> None:
    """The anyio Event/CapacityLimiter are pike ones too, and so are their statistics."""

    async def main() -> None:
        event = anyio.Event()
        stats = event.statistics()
        assert isinstance(stats, anyio.EventStatistics)
        assert isinstance(stats, pike.EventStatistics)
        assert stats.tasks_waiting == 0
        limiter = anyio.CapacityLimiter(2)
        async with limiter:
            lstats = limiter.statistics()
            assert isinstance(lstats, anyio.CapacityLimiterStatistics)
            assert isinstance(lstats, pike.CapacityLimiterStatistics)
            assert (lstats.borrowed_tokens, lstats.total_tokens, lstats.tasks_waiting) == (1, 2, 0)
            assert isinstance(lstats.borrowers, tuple)

    anyio.run(main, backend="pike")
