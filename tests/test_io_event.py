"""CrossThreadEvent: set from other threads, awaited by tasks, on every notifier."""

from __future__ import annotations

import threading
import time

import pytest
from _io_support import Runner, run

import pike

__all__ = ["run"]


def test_set_from_a_thread_wakes_waiters(run: Runner) -> None:
    async def main() -> None:
        event = pike.CrossThreadEvent()
        woken = []

        async def waiter(i: int) -> None:
            await event.wait()
            woken.append(i)

        async with pike.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(waiter, i)
            await pike.sleep(0.01)
            assert not woken
            threading.Timer(0.02, event.set).start()
        assert sorted(woken) == [0, 1, 2]
        assert event.is_set()
        await event.wait()  # already set: returns at once
        event.clear()
        assert not event.is_set()
        assert "unset" in repr(event)

    run(main)


def test_many_threads_posting(run: Runner) -> None:
    async def main() -> None:
        events = [pike.CrossThreadEvent() for _ in range(50)]

        def setter() -> None:
            for event in events:
                time.sleep(0.0005)
                event.set()

        thread = threading.Thread(target=setter)
        thread.start()
        with pike.fail_after(5):
            for event in events:
                await event.wait()
        thread.join()

    run(main)


def test_wait_is_cancellable_and_a_checkpoint(run: Runner) -> None:
    async def main() -> None:
        event = pike.CrossThreadEvent()
        with pike.move_on_after(0.01) as scope:
            await event.wait()
        assert scope.cancelled_caught
        assert "0 waiting" in repr(event)
        event.set()
        with pike.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(pike.Cancelled):
                await event.wait()

    run(main)


def test_set_after_run_finished_is_harmless() -> None:
    event = pike.CrossThreadEvent()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(event.wait)
            await pike.sleep(0.01)
            nursery.cancel_scope.cancel()

    pike.run(main)
    event.set()
