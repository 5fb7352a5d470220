"""Calls from other threads that race the end of a run get RunFinishedError (issue 9, 0e).

Deterministic versions of ``python -m stress threads_signals race_end``: the
call's callback is made to run in the window after the system nursery closed
(the last system task left) and before the run stops accepting callbacks.
"""

from __future__ import annotations

import threading
import time

import pike
from pike import lowlevel

HANG_GUARD = 60.0


def _wait_for_posted_callback(token: lowlevel.RunToken) -> None:
    """Block the run's thread (no yield) until another thread has posted a callback."""
    deadline = time.monotonic() + HANG_GUARD
    while not token._runner.entries:
        assert time.monotonic() < deadline, "the thread never posted its callback"
        time.sleep(0.001)


def test_from_thread_run_during_shutdown_raises_run_finished() -> None:
    """The callback of from_thread.run runs after the last system task left and
    the system nursery closed, but before the run stops taking callbacks."""
    outcomes: list[BaseException | int] = []

    async def one() -> int:
        return 1

    def in_thread(token: lowlevel.RunToken) -> None:
        try:
            outcomes.append(pike.from_thread.run(one, token=token))
        except BaseException as exc:
            outcomes.append(exc)

    async def system_task() -> None:
        try:
            await pike.sleep_forever()
        finally:
            token = lowlevel.current_token()
            thread = threading.Thread(target=in_thread, args=(token,))
            thread.start()
            threads.append(thread)
            _wait_for_posted_callback(token)

    threads: list[threading.Thread] = []

    async def main() -> None:
        lowlevel.spawn_system_task(system_task)
        await pike.sleep(0)

    pike.run(main)
    threads[0].join(HANG_GUARD)
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], pike.RunFinishedError), outcomes


def test_spawn_system_task_after_shutdown_is_run_finished_and_runtime_error() -> None:
    caught: list[BaseException] = []

    def spawn_late() -> None:
        try:
            lowlevel.spawn_system_task(pike.sleep, 0)
        except BaseException as exc:
            caught.append(exc)

    async def system_task() -> None:
        try:
            await pike.sleep_forever()
        finally:
            lowlevel.current_token().run_sync_soon(spawn_late)

    async def main() -> None:
        lowlevel.spawn_system_task(system_task)
        await pike.sleep(0)

    pike.run(main)
    assert len(caught) == 1
    # Still a RuntimeError for callers that caught the old type.
    assert isinstance(caught[0], pike.RunFinishedError)
    assert isinstance(caught[0], RuntimeError)
