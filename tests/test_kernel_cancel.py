"""Cancel scopes, Cancelled, shields, deadlines, move_on/fail_after."""

from __future__ import annotations

import math
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock, wait_all_tasks_blocked


def run_mock(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0))


# -- Cancelled ---------------------------------------------------------------------------


def test_cancelled_cannot_be_constructed() -> None:
    with pytest.raises(TypeError):
        pike.Cancelled()


def test_cancelled_is_base_exception_not_exception() -> None:
    assert issubclass(pike.Cancelled, BaseException)
    assert not issubclass(pike.Cancelled, Exception)


def test_cancelled_cannot_be_pickled() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            try:
                await lowlevel.checkpoint()
            except pike.Cancelled as exc:
                with pytest.raises(TypeError):
                    pickle.dumps(exc)
                raise

    pike.run(main)


# -- basic scope behaviour ---------------------------------------------------------------


def test_cancel_before_checkpoint_raises_at_checkpoint() -> None:
    async def main() -> None:
        reached = []
        with pike.CancelScope() as scope:
            scope.cancel()
            assert scope.cancel_called
            reached.append("before")  # cancel() does not raise by itself
            await lowlevel.checkpoint()
            reached.append("after")
        assert reached == ["before"]
        assert scope.cancelled_caught

    pike.run(main)


def test_scope_without_cancel_catches_nothing() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            await lowlevel.checkpoint()
        assert not scope.cancel_called
        assert not scope.cancelled_caught

    pike.run(main)


def test_cancel_called_but_no_checkpoint_is_not_caught() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
        assert scope.cancel_called
        assert not scope.cancelled_caught

    pike.run(main)


def test_cancel_before_enter() -> None:
    async def main() -> None:
        scope = pike.CancelScope()
        scope.cancel()
        with scope:
            await lowlevel.checkpoint()
            pytest.fail("not cancelled")
        assert scope.cancelled_caught

    pike.run(main)


def test_cancel_is_idempotent_and_works_after_exit() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            pass
        scope.cancel()
        scope.cancel()
        assert scope.cancel_called
        assert not scope.cancelled_caught

    pike.run(main)


def test_scope_cannot_be_reentered() -> None:
    async def main() -> None:
        scope = pike.CancelScope()
        with scope:
            pass
        with pytest.raises(RuntimeError), scope:
            pass

    pike.run(main)


def test_level_triggered_cancellation() -> None:
    async def main() -> None:
        hits = 0
        with pike.CancelScope() as scope:
            scope.cancel()
            for _ in range(3):
                try:
                    await lowlevel.checkpoint()
                except pike.Cancelled:
                    hits += 1
            try:
                await pike.sleep(1)
            except pike.Cancelled:
                hits += 1
            try:
                await pike.Event().wait()
            except pike.Cancelled:
                hits += 1
        assert hits == 5
        assert not scope.cancelled_caught  # the scope saw no Cancelled escape

    pike.run(main)


def test_checkpoint_if_cancelled() -> None:
    async def main() -> None:
        await lowlevel.checkpoint_if_cancelled()  # not cancelled: no-op
        with pike.CancelScope() as scope:
            scope.cancel()
            await lowlevel.checkpoint_if_cancelled()
            pytest.fail("not cancelled")
        assert scope.cancelled_caught

    pike.run(main)


def test_cancel_shielded_checkpoint_does_not_raise() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            await lowlevel.cancel_shielded_checkpoint()
        assert not scope.cancelled_caught

    pike.run(main)


def test_checkpoint_lets_others_run() -> None:
    order: list[str] = []

    async def other() -> None:
        order.append("other")

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(other)
            order.append("main before")
            await lowlevel.checkpoint()
            order.append("main after")

    pike.run(main)
    assert order == ["main before", "other", "main after"]


def test_cancel_outer_scope_reaches_nested_parked_task() -> None:
    async def main() -> None:
        with pike.CancelScope() as outer:
            async with pike.open_nursery() as nursery:

                async def child() -> None:
                    with pike.CancelScope() as inner:
                        await pike.sleep_forever()
                    assert not inner.cancelled_caught

                nursery.start_soon(child)
                await wait_all_tasks_blocked()
                outer.cancel()
        assert outer.cancelled_caught

    pike.run(main)


def test_inner_scope_does_not_catch_outer_cancellation() -> None:
    async def main() -> None:
        with pike.CancelScope() as outer:
            with pike.CancelScope() as inner:
                outer.cancel()
                inner.cancel()
                await lowlevel.checkpoint()
            pytest.fail("inner must not swallow outer's cancellation")
        assert not inner.cancelled_caught
        assert outer.cancelled_caught

    pike.run(main)


def test_cancelled_caught_when_wrapped_in_group() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            try:
                await lowlevel.checkpoint()
            except pike.Cancelled as exc:
                raise BaseExceptionGroup("wrapped", [exc]) from None
        assert scope.cancelled_caught

    pike.run(main)


def test_group_with_cancelled_and_error_keeps_error() -> None:
    class Boom(Exception):
        pass

    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            try:
                await lowlevel.checkpoint()
            except pike.Cancelled as exc:
                raise BaseExceptionGroup("mixed", [exc, Boom()]) from None

    with pytest.raises(BaseExceptionGroup) as info:
        pike.run(main)
    assert info.value.subgroup(pike.Cancelled) is None
    assert info.value.subgroup(Boom) is not None


def test_exit_scopes_out_of_order_is_an_error() -> None:
    # As in trio: the misnested exit raises, but closes `a` anyway and abandons
    # `b`, so the task stays usable and the run ends normally.
    async def main() -> str:
        a = pike.CancelScope()
        b = pike.CancelScope()
        a.__enter__()
        b.__enter__()
        with pytest.raises(RuntimeError, match="stack corrupted"):
            a.__exit__(None, None, None)
        with pytest.raises(RuntimeError, match="already exited"):
            b.__exit__(None, None, None)
        with pike.CancelScope() as c:
            c.cancel()
            await pike.lowlevel.checkpoint()
        assert c.cancelled_caught
        return "usable"

    assert pike.run(main) == "usable"


def test_scope_exited_in_other_task_is_an_error() -> None:
    async def main() -> None:
        scope = pike.CancelScope()
        scope.__enter__()
        errors: list[BaseException] = []

        async def other() -> None:
            try:
                scope.__exit__(None, None, None)
            except RuntimeError as exc:
                errors.append(exc)

        async with pike.open_nursery() as nursery:
            nursery.start_soon(other)
        scope.__exit__(None, None, None)
        assert len(errors) == 1

    pike.run(main)


# -- cancel while parked --------------------------------------------------------------


def test_cancel_while_parked_on_event() -> None:
    async def main() -> None:
        event = pike.Event()
        async with pike.open_nursery() as nursery:
            result: list[str] = []

            async def waiter() -> None:
                with pike.CancelScope() as scope:
                    await event.wait()
                    result.append("woken")
                result.append(f"caught={scope.cancelled_caught}")

            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            assert event.statistics().tasks_waiting == 1
            nursery.cancel_scope.cancel()
        assert event.statistics().tasks_waiting == 0
        assert result == []  # cancelled via the nursery scope, not its own

    pike.run(main)


def test_reschedule_and_cancel_in_same_tick_value_wins() -> None:
    # The task was already rescheduled (no longer parked) when cancel() comes:
    # the wait returns normally and the *next* checkpoint raises (trio semantics).
    async def main() -> None:
        event = pike.Event()
        log: list[str] = []

        async def waiter(scope: pike.CancelScope) -> None:
            with scope:
                await event.wait()
                log.append("wait returned")
                await lowlevel.checkpoint()
                log.append("not reached")
            log.append(f"caught={scope.cancelled_caught}")

        scope = pike.CancelScope()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(waiter, scope)
            await wait_all_tasks_blocked()
            event.set()
            scope.cancel()
        assert log == ["wait returned", "caught=True"]

    pike.run(main)


def test_abort_failed_keeps_task_parked_until_rescheduled() -> None:
    import outcome

    async def main() -> None:
        log: list[str] = []
        parked: list[Any] = []
        raise_cancels: list[Any] = []

        async def sleeper() -> None:
            def abort(raise_cancel: Callable[[], None]) -> lowlevel.Abort:
                log.append("abort called")
                raise_cancels.append(raise_cancel)
                return lowlevel.Abort.FAILED

            parked.append(lowlevel.current_task())
            with pike.CancelScope() as scope:
                try:
                    value = await lowlevel.wait_task_rescheduled(abort)
                    log.append(f"got {value}")
                except pike.Cancelled:
                    log.append("cancelled")
                    raise
            log.append(f"caught={scope.cancelled_caught}")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            with pike.CancelScope(shield=True):
                for _ in range(3):
                    await lowlevel.checkpoint()
                assert log == ["abort called"]  # abort declined: still parked
                # the waker decides: hand over the Cancelled via raise_cancel
                lowlevel.reschedule(parked[0], outcome.capture(raise_cancels[0]))
        assert log == ["abort called", "cancelled"]

    pike.run(main)


def test_abort_failed_then_value() -> None:
    import outcome

    async def main() -> None:
        log: list[str] = []
        parked: list[Any] = []

        async def sleeper() -> None:
            parked.append(lowlevel.current_task())
            value = await lowlevel.wait_task_rescheduled(lambda _: lowlevel.Abort.FAILED)
            log.append(f"got {value}")
            try:
                await lowlevel.checkpoint()
            except pike.Cancelled:
                log.append("next checkpoint cancelled")
                raise

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            with pike.CancelScope(shield=True):
                await lowlevel.checkpoint()
                lowlevel.reschedule(parked[0], outcome.Value(5))
        assert log == ["got 5", "next checkpoint cancelled"]

    pike.run(main)


# -- shields ---------------------------------------------------------------------------


def test_shield_blocks_outer_cancellation() -> None:
    async def main() -> None:
        with pike.CancelScope() as outer:
            outer.cancel()
            with pike.CancelScope(shield=True) as shielded:
                await lowlevel.checkpoint()
                await pike.sleep(1)
            assert not shielded.cancelled_caught
            await lowlevel.checkpoint()
            pytest.fail("outer cancellation must apply again after the shield")
        assert outer.cancelled_caught

    run_mock(main)


def test_shield_does_not_block_own_cancel() -> None:
    async def main() -> None:
        with pike.CancelScope(shield=True) as scope:
            scope.cancel()
            await lowlevel.checkpoint()
        assert scope.cancelled_caught

    pike.run(main)


def test_nested_shields() -> None:
    async def main() -> None:
        log: list[str] = []
        with pike.CancelScope() as outer:
            with pike.CancelScope(shield=True):
                with pike.CancelScope() as mid:
                    with pike.CancelScope(shield=True) as s2:
                        outer.cancel()
                        mid.cancel()
                        await lowlevel.checkpoint()  # s2 shields mid and outer
                        log.append("s2 ok")
                    assert not s2.cancelled_caught
                    await lowlevel.checkpoint()  # mid's own cancellation applies
                    log.append("not reached")
                assert mid.cancelled_caught
                await lowlevel.checkpoint()  # s1 shields outer
                log.append("s1 ok")
            await lowlevel.checkpoint()
            log.append("not reached")
        assert outer.cancelled_caught
        assert log == ["s2 ok", "s1 ok"]

    pike.run(main)


def test_shield_can_be_toggled_while_parked() -> None:
    async def main() -> None:
        log: list[str] = []
        async with pike.open_nursery() as nursery:
            shield_scope = pike.CancelScope(shield=True)

            async def child() -> None:
                with shield_scope:
                    try:
                        await pike.sleep_forever()
                    except pike.Cancelled:
                        log.append("cancelled after unshield")
                        raise

            nursery.start_soon(child)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            with pike.CancelScope(shield=True):
                await wait_all_tasks_blocked()
                assert log == []  # still shielded
                shield_scope.shield = False
        assert log == ["cancelled after unshield"]

    pike.run(main)


def test_shield_setter_type_check() -> None:
    scope = pike.CancelScope()
    with pytest.raises(TypeError):
        scope.shield = 1  # type: ignore[assignment]  # wrong on purpose
    scope.shield = True
    assert scope.shield


def test_shield_turned_on_inside_cancelled_scope() -> None:
    async def main() -> None:
        with pike.CancelScope() as outer:
            outer.cancel()
            with pike.CancelScope() as inner:
                inner.shield = True
                await lowlevel.checkpoint()
            assert not inner.cancelled_caught
        assert not outer.cancelled_caught

    pike.run(main)


# -- deadlines -------------------------------------------------------------------------


def test_move_on_after_times_out() -> None:
    async def main() -> None:
        start = pike.current_time()
        with pike.move_on_after(5) as scope:
            await pike.sleep(10)
        assert scope.cancelled_caught
        assert pike.current_time() - start == 5

    run_mock(main)


def test_move_on_after_not_reached() -> None:
    async def main() -> None:
        with pike.move_on_after(5) as scope:
            await pike.sleep(1)
        assert not scope.cancel_called
        assert not scope.cancelled_caught

    run_mock(main)


def test_move_on_at() -> None:
    async def main() -> None:
        deadline = pike.current_time() + 3
        with pike.move_on_at(deadline) as scope:
            assert scope.deadline == deadline
            await pike.sleep_forever()
        assert scope.cancelled_caught
        assert pike.current_time() == deadline

    run_mock(main)


def test_fail_after_raises_too_slow() -> None:
    async def main() -> None:
        with pike.fail_after(2):
            await pike.sleep_forever()

    with pytest.raises(pike.TooSlowError):
        run_mock(main)


def test_fail_after_success_returns_normally() -> None:
    async def main() -> str:
        with pike.fail_after(2) as scope:
            await pike.sleep(1)
        assert isinstance(scope, pike.CancelScope)
        return "ok"

    assert run_mock(main) == "ok"


def test_fail_at_raises_too_slow() -> None:
    async def main() -> None:
        with pike.fail_at(pike.current_time() + 1):
            await pike.sleep(5)

    with pytest.raises(pike.TooSlowError):
        run_mock(main)


def test_fail_after_outer_cancel_is_not_too_slow() -> None:
    async def main() -> None:
        with pike.CancelScope() as outer:
            outer.cancel()
            with pike.fail_after(10):
                await lowlevel.checkpoint()
        assert outer.cancelled_caught

    run_mock(main)


def test_deadline_already_in_the_past() -> None:
    async def main() -> None:
        past = pike.current_time() - 10
        with pike.CancelScope(deadline=past) as scope:
            await lowlevel.checkpoint()
            pytest.fail("deadline in the past must cancel at the first checkpoint")
        assert scope.cancel_called
        assert scope.cancelled_caught

        with pike.move_on_after(0) as scope2:
            await lowlevel.checkpoint()
        assert scope2.cancelled_caught

        with pytest.raises(pike.TooSlowError), pike.fail_at(past):
            await pike.sleep(1)

        with pike.CancelScope(deadline=-math.inf) as scope3:
            await lowlevel.checkpoint()
        assert scope3.cancelled_caught

    pike.run(main)


def test_deadline_moved_into_the_past_while_inside() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.deadline = pike.current_time() - 1
            await lowlevel.checkpoint()
            pytest.fail("not cancelled")
        assert scope.cancelled_caught

    pike.run(main)


def test_deadline_moved_into_the_past_while_parked() -> None:
    async def main() -> None:
        scope = pike.CancelScope()
        async with pike.open_nursery() as nursery:

            async def child() -> None:
                with scope:
                    await pike.sleep_forever()

            nursery.start_soon(child)
            await wait_all_tasks_blocked()
            scope.deadline = pike.current_time() - 1
        assert scope.cancelled_caught

    pike.run(main)


def test_deadline_can_be_extended_and_shortened() -> None:
    async def main() -> None:
        start = pike.current_time()
        with pike.move_on_after(1) as scope:
            scope.deadline += 9
            await pike.sleep_forever()
        assert pike.current_time() - start == 10

        start = pike.current_time()
        scope = pike.CancelScope(deadline=start + 100)
        async with pike.open_nursery() as nursery:

            async def child() -> None:
                with scope:
                    await pike.sleep_forever()

            nursery.start_soon(child)
            await pike.sleep(1)
            scope.deadline = start + 2
        assert scope.cancelled_caught
        assert pike.current_time() - start == 2

        with pike.move_on_after(1) as scope:
            scope.deadline = math.inf
            await pike.sleep(5)
        assert not scope.cancel_called

    run_mock(main)


def test_deadline_set_before_enter_and_relative_deadline() -> None:
    async def main() -> None:
        scope = pike.CancelScope(relative_deadline=3)
        # No absolute deadline until entered (trio's rule; inf would read as "never").
        with pytest.raises(RuntimeError, match="relative"):
            _ = scope.deadline
        assert scope.relative_deadline == 3
        await pike.sleep(10)
        start = pike.current_time()
        with scope:
            assert scope.deadline == start + 3
            await pike.sleep_forever()
        assert pike.current_time() - start == 3

    run_mock(main)


def test_deadline_nan_and_bad_types_rejected() -> None:
    with pytest.raises(ValueError):
        pike.CancelScope(deadline=math.nan)
    with pytest.raises(ValueError):
        pike.CancelScope(relative_deadline=math.nan)
    with pytest.raises(ValueError):
        pike.CancelScope(relative_deadline=-1)
    with pytest.raises(TypeError):
        pike.CancelScope(deadline="soon")  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError):
        pike.CancelScope(deadline=1, relative_deadline=1)
    scope = pike.CancelScope()
    with pytest.raises(ValueError):
        scope.deadline = math.nan
    with pytest.raises(ValueError):
        pike.move_on_at(math.nan)
    with pytest.raises(ValueError):
        pike.move_on_after(math.nan)
    with pytest.raises(ValueError):
        pike.fail_at(math.nan)
    with pytest.raises(ValueError):
        pike.fail_after(math.nan)
    with pytest.raises(ValueError):
        pike.move_on_after(-1)
    with pytest.raises(ValueError):
        pike.fail_after(-1)


def test_nan_deadline_inside_run_rejected() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            with pytest.raises(ValueError):
                scope.deadline = math.nan
            assert scope.deadline == math.inf
        with pytest.raises(ValueError):
            await pike.sleep_until(math.nan)
        with pytest.raises(ValueError):
            await pike.sleep(math.nan)

    pike.run(main)


def test_current_effective_deadline() -> None:
    async def main() -> None:
        now = pike.current_time()
        assert pike.current_effective_deadline() == math.inf
        with pike.move_on_at(now + 10):
            assert pike.current_effective_deadline() == now + 10
            with pike.move_on_at(now + 20):
                assert pike.current_effective_deadline() == now + 10
            with pike.move_on_at(now + 5):
                assert pike.current_effective_deadline() == now + 5
            with pike.CancelScope(shield=True):
                assert pike.current_effective_deadline() == math.inf
                with pike.move_on_at(now + 30):
                    assert pike.current_effective_deadline() == now + 30
            with pike.CancelScope() as scope:
                scope.cancel()
                assert pike.current_effective_deadline() == -math.inf

    run_mock(main)


def test_current_effective_deadline_inherited_by_child_task() -> None:
    async def main() -> None:
        now = pike.current_time()
        seen: list[float] = []

        async def child() -> None:
            seen.append(pike.current_effective_deadline())

        with pike.move_on_at(now + 7):
            async with pike.open_nursery() as nursery:
                nursery.start_soon(child)
        assert seen == [now + 7]

    run_mock(main)


def test_many_timeouts_fire_in_order() -> None:
    async def main() -> None:
        order: list[int] = []

        async def sleeper(i: int) -> None:
            with pike.move_on_after(i):
                await pike.sleep_forever()
            order.append(i)

        async with pike.open_nursery() as nursery:
            for i in [5, 1, 4, 2, 3]:
                nursery.start_soon(sleeper, i)
        assert order == [1, 2, 3, 4, 5]

    run_mock(main)


def test_timeout_of_exited_scope_does_not_fire() -> None:
    async def main() -> None:
        with pike.move_on_after(1) as scope:
            pass
        await pike.sleep(5)  # the dead timer must not cancel anything
        assert not scope.cancel_called

    run_mock(main)


def test_many_exited_timeouts_then_real_ones() -> None:
    # Thousands of scopes with deadlines that exit early leave dead timer
    # entries behind; the live ones must still fire exactly on time.
    async def main() -> list[float]:
        start = pike.current_time()
        for i in range(3000):
            with pike.move_on_after(10 + i % 7):
                pass
        fired: list[float] = []

        async def sleeper(delay: float) -> None:
            with pike.move_on_after(delay):
                await pike.sleep_forever()
            fired.append(pike.current_time() - start)

        async with pike.open_nursery() as nursery:
            for delay in (20, 5, 12):
                nursery.start_soon(sleeper, delay)
            for i in range(1000):
                with pike.move_on_after(1 + i % 3):
                    await lowlevel.checkpoint()
        return fired

    assert run_mock(main) == [5, 12, 20]


def test_deadline_changes_many_times() -> None:
    async def main() -> float:
        start = pike.current_time()
        with pike.CancelScope() as scope:
            for i in range(500):
                scope.deadline = start + 100 + i
            scope.deadline = start + 3
            await pike.sleep_forever()
        return pike.current_time() - start

    assert run_mock(main) == 3


def test_move_on_after_with_shield() -> None:
    async def main() -> None:
        with pike.CancelScope() as outer:
            outer.cancel()
            with pike.move_on_after(2, shield=True) as inner:
                await pike.sleep(1)  # shielded from outer
                await pike.sleep(5)  # its own deadline fires
            assert inner.cancelled_caught
        assert not outer.cancelled_caught

    run_mock(main)


def test_cancel_reaches_tasks_in_deep_nursery_tree() -> None:
    async def main() -> int:
        cancelled = 0

        async def node(depth: int) -> None:
            nonlocal cancelled
            if depth == 0:
                try:
                    await pike.sleep_forever()
                except pike.Cancelled:
                    cancelled += 1
                    raise
            async with pike.open_nursery() as nursery:
                nursery.start_soon(node, depth - 1)
                nursery.start_soon(node, depth - 1)

        with pike.move_on_after(1):
            await node(6)
        return cancelled

    assert run_mock(main) == 64
