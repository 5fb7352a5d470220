"""What happens as a run ends: queued callbacks run, generators are closed in order."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator

import pytest

import pike


def test_callback_accepted_at_the_very_end_still_runs() -> None:
    ran: list[str] = []

    async def main() -> None:
        # Posted from the main task's last step: the run is finishing already.
        pike.lowlevel.current_token().run_sync_soon(ran.append, "callback")

    pike.run(main)
    assert ran == ["callback"]


def test_token_refuses_after_the_run() -> None:
    async def main() -> pike.lowlevel.RunToken:
        return pike.lowlevel.current_token()

    token = pike.run(main)
    errors = []

    def other_thread() -> None:
        try:
            token.run_sync_soon(print)
        except pike.RunFinishedError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_generator_collected_during_shutdown_is_finalized() -> None:
    events = []

    async def agen() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            events.append("finally")

    async def main() -> None:
        gen = agen()
        await gen.__anext__()
        del gen
        gc.collect()

    pike.run(main)
    assert events == ["finally"]


def test_system_task_generators_close_after_the_system_task(
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = []

    async def ticker() -> AsyncIterator[None]:
        try:
            while True:
                yield
                await pike.sleep(0.01)
        finally:
            events.append("ticker closed")

    async def system() -> None:
        async for _ in ticker():
            await pike.sleep(0.01)

    async def main() -> None:
        pike.lowlevel.spawn_system_task(system)
        await pike.sleep(0.05)

    pike.run(main)
    assert events == ["ticker closed"]
    assert "already running" not in capsys.readouterr().err
