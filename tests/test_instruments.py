"""Instruments: pike.abc.Instrument, add_instrument/remove_instrument, run(instruments=)."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

import pike
import pike.lowlevel as ll
from pike._kernel import _state
from pike.abc import Instrument


class Recorder(Instrument):
    """Records every hook call as (hook, detail)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def before_run(self) -> None:
        self.events.append(("before_run", None))

    def after_run(self) -> None:
        self.events.append(("after_run", None))

    def task_spawned(self, task: ll.Task) -> None:
        self.events.append(("task_spawned", task.name))

    def task_scheduled(self, task: ll.Task) -> None:
        self.events.append(("task_scheduled", task.name))

    def before_task_step(self, task: ll.Task) -> None:
        self.events.append(("before_task_step", task.name))

    def after_task_step(self, task: ll.Task) -> None:
        self.events.append(("after_task_step", task.name))

    def task_exited(self, task: ll.Task) -> None:
        self.events.append(("task_exited", task.name))

    def before_io_wait(self, timeout: float) -> None:
        self.events.append(("before_io_wait", timeout))

    def after_io_wait(self, timeout: float) -> None:
        self.events.append(("after_io_wait", timeout))

    def of(self, task_name: str) -> list[str]:
        return [hook for hook, detail in self.events if detail == task_name]


async def _child() -> None:
    await pike.lowlevel.checkpoint()


def _child_name() -> str:
    return f"{__name__}._child"


def test_hooks_for_a_task_lifetime_in_order() -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(_child)

    recorder = Recorder()
    pike.run(main, instruments=[recorder])
    assert recorder.events[0] == ("before_run", None)
    assert recorder.events[-1] == ("after_run", None)
    assert recorder.of(_child_name()) == [
        "task_spawned",
        "task_scheduled",
        "before_task_step",
        "after_task_step",
        "task_scheduled",  # the checkpoint reschedules it
        "before_task_step",
        "after_task_step",
        "task_exited",
    ]
    # Every step is bracketed: no step starts before the previous one ended.
    depth = 0
    for hook, _ in recorder.events:
        if hook == "before_task_step":
            depth += 1
            assert depth == 1
        elif hook == "after_task_step":
            depth -= 1
    assert depth == 0


def test_io_wait_hooks_pair_up_with_the_same_timeout() -> None:
    async def main() -> None:
        await pike.sleep(0.01)

    recorder = Recorder()
    pike.run(main, instruments=[recorder])
    waits = [(h, t) for h, t in recorder.events if h.endswith("io_wait")]
    assert waits, "a sleeping run waits for I/O at least once"
    for before, after in zip(waits[::2], waits[1::2], strict=True):
        assert before[0] == "before_io_wait" and after[0] == "after_io_wait"
        assert before[1] == after[1]
    assert any(t > 0 for _, t in waits), "the sleep must show as a blocking wait"


def test_io_wake_reports_task_scheduled() -> None:
    a, b = socket.socketpair()

    async def reader() -> None:
        await ll.wait_readable(a)

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(reader)
            await pike.testing.wait_all_tasks_blocked()
            b.send(b"x")

    recorder = Recorder()
    try:
        pike.run(main, instruments=[recorder])
    finally:
        a.close()
        b.close()
    hooks = recorder.of(f"{__name__}.test_io_wake_reports_task_scheduled.<locals>.reader")
    # spawned+scheduled, first step parks, the notifier reschedules, last step exits.
    assert hooks.count("task_scheduled") == 2
    assert hooks[-1] == "task_exited"


def test_only_overridden_hooks_are_registered() -> None:
    class WaitsOnly(Instrument):
        def __init__(self) -> None:
            self.waits = 0

        def before_io_wait(self, timeout: float) -> None:
            self.waits += 1

    seen: dict[str, bool] = {}
    instrument = WaitsOnly()

    async def main() -> None:
        instruments = _state.runner().instruments
        assert instruments is not None
        for hook in ("before_io_wait", "before_task_step", "task_spawned", "after_run"):
            seen[hook] = instruments.wants(hook)

    pike.run(main, instruments=[instrument])
    assert seen == {
        "before_io_wait": True,
        "before_task_step": False,
        "task_spawned": False,
        "after_run": False,
    }
    assert instrument.waits >= 1


def test_adding_twice_is_a_no_op_and_removing_twice_raises_keyerror() -> None:
    recorder = Recorder()
    errors: list[BaseException] = []

    async def main() -> None:
        ll.add_instrument(recorder)
        ll.add_instrument(recorder)  # trio's contract: no-op
        async with pike.open_nursery() as nursery:
            nursery.start_soon(_child)
        ll.remove_instrument(recorder)
        try:
            ll.remove_instrument(recorder)
        except KeyError as exc:
            errors.append(exc)

    pike.run(main)
    assert recorder.of(_child_name()).count("task_spawned") == 1
    assert recorder.of(_child_name()).count("task_exited") == 1
    assert len(errors) == 1


def test_removing_one_never_installed_raises_keyerror() -> None:
    async def main() -> None:
        with pytest.raises(KeyError):
            ll.remove_instrument(Recorder())

    pike.run(main)


def test_bad_instrument_type_is_a_type_error() -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            ll.add_instrument(object())  # type: ignore[arg-type]  # wrong on purpose

    pike.run(main)
    with pytest.raises(TypeError):
        pike.run(main, instruments=[object()])  # type: ignore[list-item]  # wrong on purpose
    with pytest.raises(TypeError):
        pike.run(main, instruments=Recorder())  # type: ignore[arg-type]  # wrong on purpose


def test_add_outside_a_run_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        ll.add_instrument(Recorder())


def test_added_mid_run_sees_later_events_then_the_plain_loop_returns() -> None:
    recorder = Recorder()
    shadowed: list[bool] = []

    async def main() -> None:
        ll.add_instrument(recorder)
        await pike.lowlevel.checkpoint()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(_child)
        ll.remove_instrument(recorder)
        runner = _state.runner()
        shadowed.append("reschedule" in vars(runner) or "spawn" in vars(runner))
        async with pike.open_nursery() as nursery:
            nursery.start_soon(_child)  # not seen: removed
        await pike.sleep(0.001)

    pike.run(main)
    assert recorder.of(_child_name()).count("task_exited") == 1
    assert shadowed == [False]
    assert ("after_run", None) not in recorder.events


def test_a_raising_instrument_is_logged_and_removed(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Instrument):
        calls = 0

        def before_task_step(self, task: ll.Task) -> None:
            Broken.calls += 1
            raise ValueError("instrument bug")

    good = Recorder()

    async def main() -> int:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(_child)
        return 7

    with caplog.at_level(logging.ERROR, logger="pike.abc.Instrument"):
        assert pike.run(main, instruments=[Broken(), good]) == 7
    assert Broken.calls == 1
    assert any("instrument bug" in (r.exc_text or "") for r in caplog.records)
    assert good.of(_child_name())[-1] == "task_exited"


def test_cancellation_and_deadlines_with_instruments() -> None:
    async def main() -> tuple[bool, bool]:
        with pike.move_on_after(0.01) as scope:
            await pike.sleep_forever()
        with pike.CancelScope() as scope2:
            scope2.cancel()
            await pike.lowlevel.checkpoint()
        return scope.cancelled_caught, scope2.cancelled_caught

    assert pike.run(main, instruments=[Recorder()]) == (True, True)


def test_main_task_exception_propagates_and_after_run_still_called() -> None:
    async def main() -> None:
        raise LookupError("boom")

    recorder = Recorder()
    with pytest.raises(LookupError):
        pike.run(main, instruments=[recorder])
    assert recorder.events[-1] == ("after_run", None)
    assert ("task_exited", f"{__name__}.test_main_task_exception_propagates_and_after_run_"
            "still_called.<locals>.main") in recorder.events


def test_stepped_run_with_instruments() -> None:
    done: list[int] = []

    async def main() -> int:
        await pike.sleep(0.001)
        done.append(1)
        return 3

    recorder = Recorder()
    run = ll.SteppedRun(main, instruments=[recorder])
    run.run_until(lambda: bool(done))
    assert done == [1]
    assert run.finish() == 3
    assert recorder.events[0] == ("before_run", None)
    assert recorder.events[-1] == ("after_run", None)


def test_instrument_reachable_from_both_modules() -> None:
    assert pike.abc.Instrument is ll.Instrument


def test_ctrl_c_with_instruments_installed() -> None:
    """The stepwise loop delivers Ctrl-C like the plain one: run raises KeyboardInterrupt."""
    import subprocess
    import sys
    import textwrap

    source = textwrap.dedent(
        """
        import os, signal, threading
        import pike
        from pike.abc import Instrument

        class Steps(Instrument):
            count = 0
            def before_task_step(self, task):
                Steps.count += 1

        async def main():
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
            await pike.sleep_forever()

        try:
            pike.run(main, instruments=[Steps()])
        except KeyboardInterrupt:
            print("KeyboardInterrupt", Steps.count > 0)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "KeyboardInterrupt True" in proc.stdout
