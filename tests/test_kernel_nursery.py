"""Nurseries, strict exception groups, nursery.start() and task_status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock, wait_all_tasks_blocked


class Boom(Exception):
    pass


async def fail(msg: str = "boom") -> None:
    await lowlevel.checkpoint()
    raise Boom(msg)


def run_mock(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0))


# -- strict exception groups -----------------------------------------------------------


def test_single_child_error_is_wrapped_in_group() -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(fail)

    with pytest.raises(BaseExceptionGroup) as info:
        pike.run(main)
    assert len(info.value.exceptions) == 1
    assert isinstance(info.value.exceptions[0], Boom)


def test_body_error_alone_is_wrapped_in_group() -> None:
    async def main() -> None:
        async with pike.open_nursery():
            raise Boom("body")

    with pytest.raises(BaseExceptionGroup) as info:
        pike.run(main)
    (exc,) = info.value.exceptions
    assert isinstance(exc, Boom)
    assert str(exc) == "body"


async def fail_at_once(msg: str) -> None:
    raise Boom(msg)


def test_multiple_child_errors_collected() -> None:
    # All three raise in their first step, before the first failure's
    # cancellation can reach the others (with a checkpoint first, only one
    # would fail; trio behaves the same).
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(fail_at_once, "a")
            nursery.start_soon(fail_at_once, "b")
            nursery.start_soon(fail_at_once, "c")

    with pytest.raises(BaseExceptionGroup) as info:
        pike.run(main)
    assert sorted(str(e) for e in info.value.exceptions) == ["a", "b", "c"]


def test_body_and_child_errors_both_reported() -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(fail, "child")
            await pike.sleep_forever()

    # The child fails, the body's sleep is cancelled; Cancelled is absorbed by the
    # nursery's own scope, so only the child's error remains.
    with pytest.raises(BaseExceptionGroup) as info:
        run_mock(main)
    assert [str(e) for e in info.value.exceptions] == ["child"]

    async def main2() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(fail, "child")
            try:
                await pike.sleep_forever()
            finally:
                raise Boom("body")

    with pytest.raises(BaseExceptionGroup) as info:
        run_mock(main2)
    assert sorted(str(e) for e in info.value.exceptions) == ["body", "child"]


def test_failing_child_cancels_siblings_and_body() -> None:
    cancelled: list[str] = []

    async def sleeper(name: str) -> None:
        try:
            await pike.sleep_forever()
        except pike.Cancelled:
            cancelled.append(name)
            raise

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper, "s1")
            nursery.start_soon(sleeper, "s2")
            await wait_all_tasks_blocked()
            nursery.start_soon(fail)
            try:
                await pike.sleep_forever()
            except pike.Cancelled:
                cancelled.append("body")
                raise

    with pytest.raises(BaseExceptionGroup) as info:
        run_mock(main)
    assert info.value.subgroup(Boom) is not None
    assert info.value.subgroup(pike.Cancelled) is None
    assert sorted(cancelled) == ["body", "s1", "s2"]


def test_parent_waits_for_all_children_even_when_cancelled() -> None:
    done: list[str] = []

    async def slow_cleanup() -> None:
        try:
            await pike.sleep_forever()
        finally:
            with pike.CancelScope(shield=True):
                await pike.sleep(5)
            done.append("child cleanup")

    async def main() -> None:
        with pike.move_on_after(1):
            async with pike.open_nursery() as nursery:
                nursery.start_soon(slow_cleanup)
        done.append("parent after nursery")

    run_mock(main)
    assert done == ["child cleanup", "parent after nursery"]


def test_only_cancelled_gives_single_cancelled() -> None:
    # pike deviation from trio, documented in _nursery.py: a nursery whose only
    # exceptions are Cancelled raises one Cancelled, not a group.
    seen: list[BaseException] = []

    async def sleeper() -> None:
        await pike.sleep_forever()

    async def main() -> None:
        with pike.CancelScope() as outer:
            try:
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(sleeper)
                    nursery.start_soon(sleeper)
                    await wait_all_tasks_blocked()
                    outer.cancel()
                    await pike.sleep_forever()
            except BaseException as exc:
                seen.append(exc)
                raise
        assert outer.cancelled_caught

    run_mock(main)
    assert len(seen) == 1
    assert type(seen[0]) is pike.Cancelled


def test_nursery_cancel_scope_cancel_is_not_an_error() -> None:
    async def main() -> str:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(pike.sleep_forever)
            nursery.start_soon(pike.sleep_forever)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        assert nursery.cancel_scope.cancelled_caught
        return "ok"

    assert run_mock(main) == "ok"


def test_keyboard_interrupt_in_child_is_in_group() -> None:
    async def child() -> None:
        raise KeyboardInterrupt

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(child)

    with pytest.raises(BaseExceptionGroup) as info:
        pike.run(main)
    assert isinstance(info.value.exceptions[0], KeyboardInterrupt)


def test_start_soon_after_close_raises() -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            pass
        with pytest.raises(RuntimeError):
            nursery.start_soon(lowlevel.checkpoint)
        with pytest.raises(RuntimeError):
            await nursery.start(lowlevel.checkpoint)

    pike.run(main)


def test_children_may_spawn_into_nursery_while_parent_waits() -> None:
    ran: list[int] = []

    async def spawner(nursery: pike.Nursery, depth: int) -> None:
        ran.append(depth)
        await pike.sleep(0)
        if depth < 5:
            nursery.start_soon(spawner, nursery, depth + 1)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(spawner, nursery, 0)

    pike.run(main)
    assert ran == [0, 1, 2, 3, 4, 5]


def test_child_tasks_property() -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(pike.sleep_forever)
            await wait_all_tasks_blocked()
            assert len(nursery.child_tasks) == 1
            nursery.cancel_scope.cancel()
        assert nursery.child_tasks == frozenset()

    run_mock(main)


# -- start() -----------------------------------------------------------------------------


def test_start_returns_started_value_and_child_keeps_running() -> None:
    events: list[str] = []

    async def server(task_status: pike.TaskStatus[int] = pike.TASK_STATUS_IGNORED) -> None:
        events.append("starting")
        await pike.sleep(1)
        task_status.started(8080)
        events.append("started")
        await pike.sleep(1)
        events.append("done")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            port = await nursery.start(server)
            events.append(f"got {port}")
            assert len(nursery.child_tasks) == 1
            (task,) = nursery.child_tasks
            assert task.parent_nursery is nursery
            assert task.eventual_parent_nursery is None

    run_mock(main)
    assert events == ["starting", "started", "got 8080", "done"]


def test_start_without_value_returns_none() -> None:
    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            assert await nursery.start(child) is None

    pike.run(main)


def test_task_during_start_lives_in_callers_nursery() -> None:
    seen: list[object] = []

    async def child(
        target: pike.Nursery, task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED
    ) -> None:
        me = lowlevel.current_task()
        seen.append(me.parent_nursery is not target)
        seen.append(me.eventual_parent_nursery is target)
        task_status.started()
        seen.append(me.parent_nursery is target)
        seen.append(me.eventual_parent_nursery)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            await nursery.start(child, nursery)

    pike.run(main)
    assert seen == [True, True, True, None]


def test_start_error_before_started_raised_from_start_unwrapped() -> None:
    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        await lowlevel.checkpoint()
        raise Boom("early")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            with pytest.raises(Boom, match="early"):
                await nursery.start(child)
            # the nursery itself is unaffected
            assert not nursery.cancel_scope.cancel_called
        return None

    pike.run(main)


def test_start_error_after_started_goes_to_nursery() -> None:
    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await lowlevel.checkpoint()
        raise Boom("late")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            await nursery.start(child)
            await pike.sleep_forever()

    with pytest.raises(BaseExceptionGroup) as info:
        run_mock(main)
    assert [str(e) for e in info.value.exceptions] == ["late"]


def test_start_child_exits_without_started() -> None:
    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        await lowlevel.checkpoint()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            with pytest.raises(RuntimeError, match="started"):
                await nursery.start(child)

    pike.run(main)


def test_started_twice_is_an_error() -> None:
    async def child(task_status: pike.TaskStatus[int] = pike.TASK_STATUS_IGNORED) -> None:
        task_status.started(1)
        with pytest.raises(RuntimeError):
            task_status.started(2)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            assert await nursery.start(child) == 1

    pike.run(main)


def test_task_status_ignored_allows_start_soon() -> None:
    ran: list[bool] = []

    async def child(task_status: pike.TaskStatus[int] = pike.TASK_STATUS_IGNORED) -> None:
        task_status.started(1)
        task_status.started(2)  # ignored, no error
        ran.append(True)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(child)

    pike.run(main)
    assert ran == [True]


def test_start_passes_args_and_name() -> None:
    async def child(
        a: int, b: int, task_status: pike.TaskStatus[int] = pike.TASK_STATUS_IGNORED
    ) -> None:
        assert lowlevel.current_task().name == "named"
        task_status.started(a + b)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            assert await nursery.start(child, 2, 3, name="named") == 5

    pike.run(main)


def test_cancel_during_start_cancels_child_and_start_raises_cancelled() -> None:
    events: list[str] = []

    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        try:
            await pike.sleep_forever()
        except pike.Cancelled:
            events.append("child cancelled")
            raise
        task_status.started()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            with pike.move_on_after(1) as scope:
                await nursery.start(child)
                events.append("not reached")
            assert scope.cancelled_caught
            assert nursery.child_tasks == frozenset()
            events.append("after")

    run_mock(main)
    assert events == ["child cancelled", "after"]


def test_cancel_target_nursery_during_start_child_not_cancelled_until_started() -> None:
    # trio semantics: before started(), the child runs under the *caller*, so
    # cancelling the target nursery does not reach it; after started() it
    # moves into the cancelled nursery and is cancelled there.
    events: list[str] = []

    async def child(task_status: pike.TaskStatus[str] = pike.TASK_STATUS_IGNORED) -> None:
        await pike.sleep(1)
        events.append("starting")
        task_status.started("v")
        try:
            await pike.sleep_forever()
        except pike.Cancelled:
            events.append("child cancelled after move")
            raise

    async def main() -> None:
        async with pike.open_nursery() as outer:
            async with pike.open_nursery() as target:

                async def starter() -> None:
                    events.append("start -> " + await target.start(child))

                outer.start_soon(starter)
                await wait_all_tasks_blocked()
                target.cancel_scope.cancel()
            events.append("target closed")

    run_mock(main)
    assert events == ["starting", "start -> v", "child cancelled after move", "target closed"]


def test_target_nursery_waits_for_pending_start() -> None:
    events: list[str] = []
    go = pike.Event()

    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        await go.wait()
        task_status.started()
        for _ in range(3):
            await pike.sleep(0)
        events.append("child done")

    async def main() -> None:
        async with pike.open_nursery() as outer:
            async with pike.open_nursery() as target:
                outer.start_soon(target.start, child)
                await wait_all_tasks_blocked()
                events.append("target body done")
                go.set()
            events.append("target closed")

    pike.run(main)
    assert events == ["target body done", "child done", "target closed"]


def test_start_into_nursery_cancelled_child_started_while_caller_cancelled() -> None:
    # started() while the caller is cancelled: the child stays put and finishes
    # where it is; start() then returns the value (trio behaves the same).
    events: list[str] = []

    async def child(task_status: pike.TaskStatus[int] = pike.TASK_STATUS_IGNORED) -> None:
        try:
            await pike.sleep_forever()
        finally:
            task_status.started(7)
            events.append("started in finally")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            with pike.CancelScope() as scope:
                scope.cancel()
                await nursery.start(child)
            events.append(f"caught={scope.cancelled_caught}")

    pike.run(main)
    assert events == ["started in finally", "caught=True"]


def test_started_moves_nested_nursery_children() -> None:
    # A task started with start() that opened its own nursery before started():
    # its grandchildren must move along with it (and be cancellable there).
    events: list[str] = []

    async def grandchild() -> None:
        try:
            await pike.sleep_forever()
        except pike.Cancelled:
            events.append("grandchild cancelled")
            raise

    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        async with pike.open_nursery() as inner:
            inner.start_soon(grandchild)
            await wait_all_tasks_blocked()
            task_status.started()
            await pike.sleep_forever()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            await nursery.start(child)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        events.append("done")

    run_mock(main)
    assert events == ["grandchild cancelled", "done"]


def test_start_child_with_cancel_scope_moves_correctly() -> None:
    # The started task holds a scope (with a deadline) across started(); that
    # scope must still work after the move.
    events: list[str] = []

    async def child(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        with pike.move_on_after(5) as scope:
            task_status.started()
            await pike.sleep_forever()
        events.append(f"child scope caught={scope.cancelled_caught}")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            await nursery.start(child)
            start = pike.current_time()
        events.append(f"elapsed={pike.current_time() - start}")

    run_mock(main)
    assert events == ["child scope caught=True", "elapsed=5.0"]
