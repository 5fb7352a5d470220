"""current_statistics(), the task-tree dump, debug=True's stuck report and the signal opt-in."""

from __future__ import annotations

import io
import math
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock, wait_all_tasks_blocked

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_statistics_count_tasks_deadlines_and_callbacks() -> None:
    async def main() -> None:
        stats = lowlevel.current_statistics()
        # <init> and main.
        assert stats.tasks_living == 2
        assert stats.seconds_to_next_deadline == math.inf
        assert stats.io_statistics.backend == "epoll"
        event = pike.Event()
        async with pike.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(event.wait)
            assert lowlevel.current_statistics().tasks_runnable == 3
            await wait_all_tasks_blocked()
            with pike.move_on_after(7.5):
                stats = lowlevel.current_statistics()
                assert stats.tasks_living == 5
                assert stats.tasks_runnable == 0
                assert stats.seconds_to_next_deadline == pytest.approx(7.5)
            token = lowlevel.current_token()
            token.run_sync_soon(lambda: None)
            token.run_sync_soon(lambda: None)
            assert lowlevel.current_statistics().run_sync_soon_queue_size == 2
            event.set()
        assert lowlevel.current_statistics().tasks_living == 2

    pike.run(main, clock=MockClock(), notifier="epoll")


def test_statistics_count_io_waiters() -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            async with pike.open_nursery() as nursery:
                nursery.start_soon(lowlevel.wait_readable, a)
                nursery.start_soon(lowlevel.wait_readable, b)
                await wait_all_tasks_blocked()
                io_stats = lowlevel.current_statistics().io_statistics
                assert (io_stats.tasks_waiting_read, io_stats.tasks_waiting_write) == (2, 0)
                assert io_stats.backend == "poll"
                b.send(b"x")
                a.send(b"y")
            io_stats = lowlevel.current_statistics().io_statistics
            assert io_stats.tasks_waiting_read == 0

    pike.run(main, notifier="poll")


def test_statistics_outside_a_run_is_an_error() -> None:
    with pytest.raises(RuntimeError, match=r"inside pike\.run"):
        lowlevel.current_statistics()
    with pytest.raises(RuntimeError, match=r"inside pike\.run"):
        lowlevel.format_task_tree()


async def _blocked_child(event: pike.Event) -> None:
    with pike.CancelScope(shield=True):
        await event.wait()


def test_tree_shows_tasks_scopes_and_where_they_wait() -> None:
    async def main() -> str:
        event = pike.Event()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(_blocked_child, event, name="the-child")
            nursery.start_soon(pike.sleep_forever, name="sleeper")
            await wait_all_tasks_blocked()
            nursery.cancel_scope.deadline = pike.current_time() + 30
            with pike.CancelScope() as scope:
                scope.cancel("just looking")
                tree = lowlevel.format_task_tree()
            event.set()
            nursery.cancel_scope.cancel()
        return tree

    tree = pike.run(main, clock=MockClock())
    lines = tree.splitlines()
    assert lines[0].startswith("pike task tree: 4 task(s) living")
    assert "task '<init>' [parked]" in tree
    assert "nursery (system tasks)" in tree
    main_line = next(i for i, line in enumerate(lines) if "main' [running]" in line)
    child_line = next(i for i, line in enumerate(lines) if "task 'the-child' [parked]" in line)
    assert child_line > main_line
    # The child's own shielded scope, and the frame it waits in.
    assert any(
        "cancel scope [deadline=none, shield=True, cancel_called=False]" in line
        for line in lines[child_line:]
    )
    assert any("in _blocked_child" in line for line in lines[child_line:])
    assert any("in wait" in line for line in lines[child_line:])
    # The nursery's deadline, and main's cancelled scope with its reason.
    assert "nursery [deadline=in 30.00s, shield=False, cancel_called=False]" in tree
    assert "cancel_called=True (just looking)" in tree
    assert "task 'sleeper' [parked]" in tree
    assert "in sleep_forever" in tree


def test_print_task_tree_writes_to_the_given_file() -> None:
    async def main() -> None:
        out = io.StringIO()
        lowlevel.print_task_tree(out)
        assert "main' [running]" in out.getvalue()

    pike.run(main)


def _run_deadlock_example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "deadlock.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_run_reports_a_deadlock_once_it_is_idle() -> None:
    result = _run_deadlock_example("--report-after", "0.5", "--give-up-after", "3")
    assert result.returncode == 0, result.stderr
    assert "deadlock: gave up after 3.0 s" in result.stdout
    err = result.stderr
    assert err.count("the run has been idle for 0.5s") == 1
    assert "task 'left' [parked]" in err and "task 'right' [parked]" in err
    assert re.search(r"examples/deadlock\.py:\d+ in worker", err)
    assert "in acquire" in err
    assert "cancel scope [deadline=in " in err


def test_debug_run_does_not_report_a_busy_or_short_run() -> None:
    async def main() -> None:
        for _ in range(5):
            await pike.sleep(0.05)  # each wait is shorter than the patience

    err = io.StringIO()
    real = sys.stderr
    sys.stderr = err
    try:
        pike.run(main, debug=True, stuck_report_seconds=0.2)
    finally:
        sys.stderr = real
    assert "idle for" not in err.getvalue()


def test_idle_report_ends_when_a_thread_wakes_the_run() -> None:
    async def main() -> int:
        return await pike.to_thread.run_sync(lambda: 41) + 1

    err = io.StringIO()
    real = sys.stderr
    sys.stderr = err
    try:
        assert pike.run(main, debug=True, stuck_report_seconds=5) == 42
    finally:
        sys.stderr = real
    assert "idle for" not in err.getvalue()


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError),
                         ("1", TypeError), (True, TypeError)]
)
def test_bad_stuck_report_seconds(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="stuck_report_seconds"):
        # The wrong type is the point of this call (the ignore below).
        pike.run(pike.sleep, 0, stuck_report_seconds=value)  # type: ignore[arg-type]


def test_dump_on_signal_prints_the_tree() -> None:
    async def main() -> str:
        out = io.StringIO()
        lowlevel.dump_task_tree_on(signal.SIGUSR1, file=out)
        async with pike.open_nursery() as nursery:
            nursery.start_soon(pike.sleep_forever, name="napper")
            await wait_all_tasks_blocked()
            signal.raise_signal(signal.SIGUSR1)
            with pike.fail_after(30):
                while "napper" not in out.getvalue():
                    await pike.sleep(0.01)
            nursery.cancel_scope.cancel()
        return out.getvalue()

    previous = signal.getsignal(signal.SIGUSR1)
    text = pike.run(main)
    assert "task 'napper' [parked]" in text
    assert "<pike task-tree dumper>" in text
    assert signal.getsignal(signal.SIGUSR1) == previous  # given back when the run ends


def test_dump_on_signal_bad_input() -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            lowlevel.dump_task_tree_on()
        with pytest.raises(TypeError):
            lowlevel.dump_task_tree_on("SIGUSR1")  # type: ignore[arg-type]  # wrong on purpose
        with pytest.raises(ValueError):
            lowlevel.dump_task_tree_on(10_000)

    pike.run(main)
