"""Deadlines read back as trio says (issue 9 point 0f and the fuzzer's scope findings).

``cancel_called`` checks the clock, so a deadline already in the past reads as
cancelled at once; ``relative_deadline`` is settable and ``is_relative`` exists,
and an unentered relative scope has no absolute deadline to read or set.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock


def run_mock(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0))


def test_past_deadline_set_inside_reads_cancelled_and_checkpoint_if_cancelled_raises() -> None:
    seen: list[object] = []

    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.deadline = pike.current_time() - 1
            seen.append(scope.cancel_called)
            seen.append(scope.cancel_reason)
            await lowlevel.checkpoint_if_cancelled()
            seen.append("not reached")
        seen.append(scope.cancelled_caught)

    run_mock(main)
    assert seen == [True, "deadline exceeded", True]


def test_unentered_scope_with_past_deadline_reads_cancelled() -> None:
    seen: list[object] = []

    async def main() -> None:
        scope = pike.CancelScope(deadline=pike.current_time() - 1)
        seen.append(scope.cancel_called)
        with scope:
            await lowlevel.checkpoint_if_cancelled()
            seen.append("not reached")
        seen.append(scope.cancelled_caught)

    run_mock(main)
    assert seen == [True, True]


def test_future_deadline_does_not_read_cancelled() -> None:
    async def main() -> bool:
        with pike.CancelScope(deadline=pike.current_time() + 10) as scope:
            called = scope.cancel_called
        return called

    assert run_mock(main) is False


def test_exited_scope_is_not_cancelled_by_a_later_read() -> None:
    async def main() -> bool:
        with pike.CancelScope(deadline=pike.current_time() + 1) as scope:
            pass
        await pike.sleep(5)
        return scope.cancel_called

    assert run_mock(main) is False


def test_setting_deadline_on_unentered_relative_scope_raises() -> None:
    async def main() -> None:
        scope = pike.move_on_after(5)
        with pytest.raises(RuntimeError, match="relative"):
            scope.deadline = pike.current_time() + 1
        with pytest.raises(RuntimeError, match="relative"):
            _ = scope.deadline
        assert scope.relative_deadline == 5
        with scope:
            assert scope.deadline == pike.current_time() + 5

    run_mock(main)


def test_relative_deadline_before_entry_counts_from_entry() -> None:
    async def main() -> None:
        scope = pike.CancelScope()
        assert scope.is_relative is False
        scope.relative_deadline = 3
        assert scope.is_relative is True
        assert scope.relative_deadline == 3
        await pike.sleep(10)
        start = pike.current_time()
        with scope:
            assert scope.is_relative is None
            assert scope.deadline == start + 3
            await pike.sleep(100)
        assert scope.cancelled_caught
        assert pike.current_time() == start + 3

    run_mock(main)


def test_relative_deadline_after_entry_counts_from_now() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            assert scope.relative_deadline == math.inf
            await pike.sleep(2)
            now = pike.current_time()
            scope.relative_deadline = 4
            assert scope.deadline == now + 4
            assert scope.relative_deadline == 4
            await pike.sleep(100)
        assert scope.cancelled_caught
        assert pike.current_time() == now + 4

    run_mock(main)


def test_relative_deadline_rules() -> None:
    absolute = pike.CancelScope(deadline=5)
    assert absolute.is_relative is False
    with pytest.raises(RuntimeError, match="relative"):
        _ = absolute.relative_deadline
    with pytest.raises(RuntimeError, match="relative"):
        absolute.relative_deadline = 1
    scope = pike.CancelScope()
    with pytest.raises(ValueError):
        scope.relative_deadline = -1
    with pytest.raises(ValueError):
        scope.relative_deadline = math.nan
    with pytest.raises(TypeError):
        scope.relative_deadline = "1"  # type: ignore[assignment]  # wrong on purpose
    assert scope.is_relative is False
