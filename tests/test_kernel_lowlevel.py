"""pike.lowlevel: wait_task_rescheduled/reschedule, ParkingLot, RunVar, the run token."""

from __future__ import annotations

import gc
import threading
from typing import Any

import outcome
import pytest

import pike
from pike import lowlevel
from pike.testing import wait_all_tasks_blocked

# -- park / reschedule -----------------------------------------------------------------


def test_park_and_reschedule_with_value() -> None:
    async def main() -> Any:
        parked: list[lowlevel.Task] = []
        results: list[Any] = []

        async def sleeper() -> None:
            parked.append(lowlevel.current_task())
            results.append(
                await lowlevel.wait_task_rescheduled(lambda _: lowlevel.Abort.SUCCEEDED)
            )

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            lowlevel.reschedule(parked[0], outcome.Value("hello"))
        return results

    assert pike.run(main) == ["hello"]


def test_reschedule_default_is_none_and_error_outcome() -> None:
    class Boom(Exception):
        pass

    async def main() -> list[Any]:
        parked: list[lowlevel.Task] = []
        results: list[Any] = []

        async def sleeper() -> None:
            parked.append(lowlevel.current_task())
            results.append(
                await lowlevel.wait_task_rescheduled(lambda _: lowlevel.Abort.SUCCEEDED)
            )
            try:
                await lowlevel.wait_task_rescheduled(lambda _: lowlevel.Abort.SUCCEEDED)
            except Boom as exc:
                results.append(exc)

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            lowlevel.reschedule(parked[0])
            await wait_all_tasks_blocked()
            lowlevel.reschedule(parked[0], outcome.Error(Boom("e")))
        return results

    results = pike.run(main)
    assert results[0] is None
    assert isinstance(results[1], Boom)


def test_reschedule_a_running_task_is_an_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError):
            lowlevel.reschedule(lowlevel.current_task())

    pike.run(main)


def test_abort_succeeded_delivers_cancelled() -> None:
    async def main() -> list[str]:
        log: list[str] = []

        def abort(raise_cancel: lowlevel.RaiseCancelT) -> lowlevel.Abort:
            log.append("abort")
            return lowlevel.Abort.SUCCEEDED

        with pike.CancelScope() as scope:
            async with pike.open_nursery() as nursery:

                async def canceller() -> None:
                    await wait_all_tasks_blocked()
                    scope.cancel()

                nursery.start_soon(canceller)
                await lowlevel.wait_task_rescheduled(abort)
        assert scope.cancelled_caught
        return log

    assert pike.run(main) == ["abort"]


def test_abort_called_at_once_if_already_cancelled() -> None:
    async def main() -> list[str]:
        log: list[str] = []

        def abort(raise_cancel: lowlevel.RaiseCancelT) -> lowlevel.Abort:
            log.append("abort")
            return lowlevel.Abort.SUCCEEDED

        with pike.CancelScope() as scope:
            scope.cancel()
            await lowlevel.wait_task_rescheduled(abort)
        assert scope.cancelled_caught
        return log

    assert pike.run(main) == ["abort"]


def test_abort_called_at_most_once() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        parked: list[lowlevel.Task] = []

        def abort(raise_cancel: lowlevel.RaiseCancelT) -> lowlevel.Abort:
            log.append("abort")
            return lowlevel.Abort.FAILED

        async def sleeper(inner: pike.CancelScope) -> None:
            with inner:
                parked.append(lowlevel.current_task())
                await lowlevel.wait_task_rescheduled(abort)

        inner = pike.CancelScope()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(sleeper, inner)
            await wait_all_tasks_blocked()
            inner.cancel()
            with pike.CancelScope(shield=True):
                nursery.cancel_scope.cancel()  # a second, outer cancellation
                await wait_all_tasks_blocked()
                lowlevel.reschedule(parked[0])
        return log

    assert pike.run(main) == ["abort"]


# The run is abandoned mid-flight, so its coroutines are collected unfinished.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_abort_returning_garbage_is_internal_error() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope:
            scope.cancel()
            # The wrong type is the point of this call (the ignore below).
            await lowlevel.wait_task_rescheduled(lambda _: None)  # type: ignore[arg-type,return-value]

    with pytest.raises(pike.PikeInternalError, match="Abort"):
        pike.run(main)
    gc.collect()


# -- ParkingLot ------------------------------------------------------------------------


def test_parking_lot_fifo_unpark_count() -> None:
    async def main() -> list[Any]:
        lot = lowlevel.ParkingLot()
        log: list[Any] = []

        async def parker(i: int) -> None:
            value = await lot.park()
            log.append((i, value))

        async with pike.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(parker, i)
                await wait_all_tasks_blocked()
            assert len(lot) == 5
            assert lot
            assert lot.statistics().tasks_waiting == 5
            woken = lot.unpark(value="a")
            assert len(woken) == 1
            await wait_all_tasks_blocked()
            assert len(lot.unpark(count=2, value="b")) == 2
            await wait_all_tasks_blocked()
            assert len(lot.unpark_all(value="c")) == 2
            assert not lot
            assert lot.unpark() == []
        return log

    assert pike.run(main) == [(0, "a"), (1, "b"), (2, "b"), (3, "c"), (4, "c")]


def test_parking_lot_cancelled_parker_leaves() -> None:
    async def main() -> None:
        lot = lowlevel.ParkingLot()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(lot.park)
            nursery.start_soon(lot.park)
            await wait_all_tasks_blocked()
            assert len(lot) == 2
            nursery.cancel_scope.cancel()
        assert len(lot) == 0

    pike.run(main)


def test_parking_lot_repark() -> None:
    async def main() -> list[str]:
        a, b = lowlevel.ParkingLot(), lowlevel.ParkingLot()
        log: list[str] = []

        async def parker(name: str) -> None:
            await a.park()
            log.append(name)

        async with pike.open_nursery() as nursery:
            for name in ("x", "y", "z"):
                nursery.start_soon(parker, name)
                await wait_all_tasks_blocked()
            a.repark(b)
            assert (len(a), len(b)) == (2, 1)
            a.repark_all(b)
            assert (len(a), len(b)) == (0, 3)
            with pytest.raises(TypeError):
                a.repark([])  # type: ignore[arg-type]  # wrong on purpose
            b.unpark(count=2)
            await wait_all_tasks_blocked()
            assert log == ["x", "y"]
            nursery.cancel_scope.cancel()  # the reparked task is cancellable from b
        assert len(b) == 0
        return log

    assert pike.run(main) == ["x", "y"]


def test_parking_lot_negative_count() -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            lowlevel.ParkingLot().unpark(count=-1)
        with pytest.raises(ValueError):
            lowlevel.ParkingLot().repark(lowlevel.ParkingLot(), count=-1)

    pike.run(main)


def test_parking_lot_repark_joins_behind_the_new_lots_own_waiters() -> None:
    async def main() -> list[str]:
        a, b = lowlevel.ParkingLot(), lowlevel.ParkingLot()
        log: list[str] = []

        async def parker(lot: lowlevel.ParkingLot, name: str) -> None:
            await lot.park()
            log.append(name)

        async with pike.open_nursery() as nursery:
            for lot, name in ((b, "b1"), (a, "a1"), (a, "a2"), (b, "b2")):
                nursery.start_soon(parker, lot, name)
                await wait_all_tasks_blocked()
            a.repark_all(b)
            b.unpark_all()
        return log

    assert pike.run(main) == ["b1", "b2", "a1", "a2"]


def test_parking_lot_repark_into_a_broken_lot_fails_the_moved_tasks() -> None:
    async def main() -> list[str]:
        source, broken = lowlevel.ParkingLot(), lowlevel.ParkingLot()
        outcomes: list[str] = []

        async def parker() -> None:
            try:
                await source.park()
            except pike.BrokenResourceError:
                outcomes.append("broken")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(parker)
            nursery.start_soon(parker)
            await wait_all_tasks_blocked()
            broken.break_lot(lowlevel.current_task())
            source.repark(broken, count=1)
            await wait_all_tasks_blocked()
            assert (len(source), len(broken), outcomes) == (1, 0, ["broken"])
            nursery.cancel_scope.cancel()
        return outcomes

    assert pike.run(main) == ["broken"]


# -- RunVar ----------------------------------------------------------------------------

rv: lowlevel.RunVar[int] = lowlevel.RunVar("rv")
rv_default: lowlevel.RunVar[str] = lowlevel.RunVar("rv_default", default="dflt")


def test_runvar_get_set_reset() -> None:
    async def main() -> None:
        with pytest.raises(LookupError):
            rv.get()
        assert rv.get(5) == 5
        assert rv_default.get() == "dflt"
        token = rv.set(1)
        assert rv.get() == 1
        token2 = rv.set(2)
        assert rv.get() == 2
        rv.reset(token2)
        assert rv.get() == 1
        with pytest.raises(ValueError):
            rv.reset(token2)  # used twice
        with pytest.raises(ValueError):
            rv_default.reset(token)  # type: ignore[arg-type]  # deliberately the wrong var's token
        rv.reset(token)
        with pytest.raises(LookupError):
            rv.get()

    pike.run(main)


def test_runvar_is_shared_by_tasks_and_local_to_run() -> None:
    async def main(value: int) -> int:
        first = rv.get(-1)
        rv.set(value)

        async def child() -> None:
            assert rv.get() == value
            rv.set(value + 100)

        async with pike.open_nursery() as nursery:
            nursery.start_soon(child)
        assert rv.get() == value + 100  # not a contextvar: the child's set is seen
        return first

    assert pike.run(main, 1) == -1
    assert pike.run(main, 2) == -1  # fresh run, fresh value


def test_runvar_outside_run() -> None:
    with pytest.raises(RuntimeError):
        rv.get()
    with pytest.raises(RuntimeError):
        rv.set(1)


# -- the run token ---------------------------------------------------------------------


def test_token_run_sync_soon_in_loop_thread() -> None:
    async def main() -> list[Any]:
        log: list[Any] = []
        token = lowlevel.current_token()
        assert token is lowlevel.current_token()
        token.run_sync_soon(log.append, 1)
        token.run_sync_soon(lambda: log.append(threading.get_ident()))
        await wait_all_tasks_blocked()
        return log

    log = pike.run(main)
    assert log == [1, threading.get_ident()]


def test_token_run_sync_soon_from_other_thread_wakes_loop() -> None:
    async def main() -> list[int]:
        token = lowlevel.current_token()
        event = pike.Event()
        ids: list[int] = []

        def from_thread() -> None:
            def cb() -> None:
                ids.append(threading.get_ident())
                event.set()

            token.run_sync_soon(cb)

        t = threading.Thread(target=from_thread)
        t.start()
        with pike.fail_after(10):
            await event.wait()  # blocked in epoll until the thread's wake-up
        t.join()
        return ids

    assert pike.run(main) == [threading.get_ident()]


def test_token_idempotent() -> None:
    async def main() -> list[int]:
        log: list[int] = []
        token = lowlevel.current_token()
        for _ in range(3):
            token.run_sync_soon(log.append, 7, idempotent=True)
        token.run_sync_soon(log.append, 8, idempotent=True)
        await wait_all_tasks_blocked()
        return log

    assert pike.run(main) == [7, 8]


def test_token_after_run_raises_run_finished() -> None:
    async def main() -> lowlevel.RunToken:
        return lowlevel.current_token()

    token = pike.run(main)
    with pytest.raises(pike.RunFinishedError):
        token.run_sync_soon(print)
    assert issubclass(pike.RunFinishedError, RuntimeError)


def test_token_callback_crash_is_internal_error() -> None:
    async def main() -> None:
        def bad() -> None:
            raise ValueError("cb")

        lowlevel.current_token().run_sync_soon(bad)
        await pike.sleep_forever()

    with pytest.raises(pike.PikeInternalError) as info:
        pike.run(main)
    assert isinstance(info.value.__cause__, ValueError)


def test_cancel_from_foreign_thread_via_token() -> None:
    async def main() -> bool:
        token = lowlevel.current_token()
        started = threading.Event()
        with pike.CancelScope() as scope:

            def thread_fn() -> None:
                started.wait()
                token.run_sync_soon(scope.cancel)

            t = threading.Thread(target=thread_fn)
            t.start()
            started.set()
            await pike.sleep_forever()
        t.join()
        return scope.cancelled_caught

    assert pike.run(main) is True


def test_cancel_from_worker_thread_via_token() -> None:
    # The race: a to_thread worker cancels a scope the run is parked in.
    async def main() -> list[str]:
        token = lowlevel.current_token()
        log: list[str] = []
        scope = pike.CancelScope()

        def worker() -> str:
            token.run_sync_soon(scope.cancel)
            return "worker done"

        async with pike.open_nursery() as nursery:

            async def victim() -> None:
                with scope:
                    await pike.sleep_forever()
                log.append(f"victim caught={scope.cancelled_caught}")

            nursery.start_soon(victim)
            await wait_all_tasks_blocked()
            log.append(await pike.to_thread.run_sync(worker))
        return sorted(log)

    assert pike.run(main) == ["victim caught=True", "worker done"]


def test_cancel_scope_around_to_thread_from_its_own_worker() -> None:
    # The worker cancels the very scope its caller waits in: the caller (not
    # abandoning) waits for the thread, then sees the cancellation.
    async def main() -> tuple[bool, list[str]]:
        token = lowlevel.current_token()
        log: list[str] = []
        with pike.CancelScope() as scope:

            def worker() -> None:
                token.run_sync_soon(scope.cancel)
                log.append("worker returned")

            await pike.to_thread.run_sync(worker)
            await lowlevel.checkpoint()
            log.append("not reached")
        return scope.cancelled_caught, log

    assert pike.run(main) == (True, ["worker returned"])


def test_token_repr_and_type() -> None:
    async def main() -> None:
        token = lowlevel.current_token()
        assert isinstance(token, lowlevel.RunToken)
        assert "RunToken" in repr(token)

    pike.run(main)


def test_many_threads_hammer_token() -> None:
    n_threads, per_thread = 4, 200

    async def main() -> int:
        token = lowlevel.current_token()
        count = 0
        done = pike.Event()

        def bump() -> None:
            nonlocal count
            count += 1
            if count == n_threads * per_thread:
                done.set()

        def hammer() -> None:
            for _ in range(per_thread):
                token.run_sync_soon(bump)

        threads = [threading.Thread(target=hammer) for _ in range(n_threads)]
        for t in threads:
            t.start()
        with pike.fail_after(20):
            await done.wait()
        for t in threads:
            t.join()
        return count

    assert pike.run(main) == n_threads * per_thread



# -- SteppedRun ------------------------------------------------------------------------


def test_stepped_run() -> None:
    state: list[str] = []
    gate = pike.Event()
    tokens: list[lowlevel.RunToken] = []

    async def main() -> str:
        tokens.append(lowlevel.current_token())
        state.append("started")
        await gate.wait()
        state.append("passed gate")
        return "finished"

    run = lowlevel.SteppedRun(main)
    assert not run.finished
    run.run_until(lambda: state == ["started"])
    assert state == ["started"]
    assert not run.finished
    with pytest.raises(RuntimeError):
        pike.current_time()  # between steps we are not inside the run
    tokens[0].run_sync_soon(gate.set)  # queued; runs when the loop is driven
    assert state == ["started"]
    assert run.finish() == "finished"
    assert run.finished
    assert state == ["started", "passed gate"]
    with pytest.raises(RuntimeError):
        run.finish()
