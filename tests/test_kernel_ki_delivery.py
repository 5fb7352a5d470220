"""Ctrl-C delivery: KeyboardInterrupt in the main task (drainable), a second one that does not wait.

Each scenario runs in a subprocess that prints "ready", then gets one or two SIGINTs.
Protected or stuck code blocks reading stdin (a blocking call that a SIGINT does not end
by itself), so the test decides when it finishes: no wall-clock assertion anywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PRELUDE = textwrap.dedent(
    """
    import sys, time
    import pike
    from pike import lowlevel
    from pike.testing import wait_all_tasks_blocked

    def say(msg):
        print(msg, flush=True)

    def wait_for_go():
        sys.stdin.readline()
    """
)

RUNNER = textwrap.dedent(
    """
    try:
        say("run returned " + repr(pike.run(main)))
    except KeyboardInterrupt:
        say("KeyboardInterrupt out of run")
    """
)


def run_child(body: str, sigints: int) -> tuple[int, list[str], str]:
    source = PRELUDE + textwrap.dedent(body) + RUNNER
    proc = subprocess.Popen(
        [sys.executable, "-X", "dev", "-c", source],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert proc.stdout is not None and proc.stdin is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                break
        for _ in range(sigints):
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        try:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # the child already ended
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child hung: {lines}\n{out}\n{err}")
    lines.extend(out.splitlines())
    return proc.returncode, lines, err


def test_main_task_catches_keyboard_interrupt_and_drains() -> None:
    code, lines, err = run_child(
        """
        async def worker():
            try:
                await pike.sleep_forever()
            finally:
                say("worker cancelled")

        async def main():
            async with pike.open_nursery() as nursery:
                nursery.start_soon(worker)
                await wait_all_tasks_blocked()
                try:
                    say("ready")
                    await pike.sleep_forever()
                except KeyboardInterrupt:
                    say("draining")
                    await pike.sleep(0.01)  # the run goes on: nothing was cancelled
                    say("drained")
                    nursery.cancel_scope.cancel()
            return "clean"
        """,
        sigints=1,
    )
    assert lines[1:] == ["draining", "drained", "worker cancelled", "run returned 'clean'"], (
        lines,
        err,
    )
    assert code == 0


def test_keyboard_interrupt_reaches_a_main_task_waiting_for_its_children() -> None:
    code, lines, err = run_child(
        """
        async def worker():
            try:
                await pike.sleep_forever()
            except pike.Cancelled:
                say("worker got Cancelled")
                raise

        async def main():
            try:
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(worker)
                    await wait_all_tasks_blocked()
                    say("ready")
            except BaseExceptionGroup as group:
                say("group " + repr(sorted(type(e).__name__ for e in group.exceptions)))
                raise
        """,
        sigints=1,
    )
    assert lines[1:] == [
        "worker got Cancelled",
        "group ['KeyboardInterrupt']",  # the nursery's own scope absorbs Cancelled
        "KeyboardInterrupt out of run",
    ], (lines, err)
    assert code == 0


def test_first_ctrl_c_waits_for_a_shield_to_end() -> None:
    code, lines, err = run_child(
        """
        async def main():
            with pike.CancelScope(shield=True):
                say("ready")
                await pike.to_thread.run_sync(wait_for_go)
                say("shielded part done")
            await pike.sleep_forever()
        """,
        sigints=1,
    )
    assert lines[1:] == ["shielded part done", "KeyboardInterrupt out of run"], (lines, err)
    assert code == 0


def test_second_ctrl_c_interrupts_unprotected_shielded_code() -> None:
    code, lines, err = run_child(
        """
        async def main():
            try:
                await pike.sleep(0)
            finally:
                with pike.CancelScope(shield=True):
                    say("ready")
                    try:
                        wait_for_go()  # blocking, in the task itself
                    except KeyboardInterrupt:
                        say("interrupted in the shield")
                        raise
                    say("not interrupted")
        """,
        sigints=2,
    )
    assert lines[1:] == ["interrupted in the shield", "KeyboardInterrupt out of run"], (
        lines,
        err,
    )
    assert code == 0


def test_second_ctrl_c_spares_protected_code_then_interrupts() -> None:
    code, lines, err = run_child(
        """
        @lowlevel.enable_ki_protection
        def critical():
            assert lowlevel.currently_ki_protected()
            wait_for_go()
            say("critical section done")

        async def main():
            with pike.CancelScope(shield=True):
                say("ready")
                critical()
                try:
                    await pike.sleep_forever()
                except KeyboardInterrupt:
                    say("interrupted after it")
                    raise
        """,
        sigints=2,
    )
    assert lines[1:] == [
        "critical section done",
        "interrupted after it",
        "KeyboardInterrupt out of run",
    ], (lines, err)
    assert code == 0


def test_second_ctrl_c_abandons_a_long_thread_call() -> None:
    code, lines, err = run_child(
        """
        async def main():
            try:
                say("ready")
                await pike.to_thread.run_sync(time.sleep, 3600)
            finally:
                say("finally main")
        """,
        sigints=2,
    )
    # The thread cannot be interrupted and the main task cannot leave its wait: the run
    # is abandoned (the daemon thread with it) and KeyboardInterrupt leaves pike.run.
    assert lines[-1] == "KeyboardInterrupt out of run", (lines, err)
    assert code == 0
    assert code == 0


def test_second_ctrl_c_ends_a_run_stuck_in_a_childs_shielded_cleanup() -> None:
    code, lines, err = run_child(
        """
        async def stuck():
            try:
                await pike.sleep_forever()
            finally:
                with pike.CancelScope(shield=True):
                    say("cleanup starts")
                    await pike.to_thread.run_sync(time.sleep, 3600)

        async def main():
            async with pike.open_nursery() as nursery:
                nursery.start_soon(stuck)
                await wait_all_tasks_blocked()
                say("ready")
        """,
        sigints=2,
    )
    assert "cleanup starts" in lines
    assert lines[-1] == "KeyboardInterrupt out of run", (lines, err)
    assert code == 0


ANYIO_DRAIN = """
import sys
import anyio

def say(msg):
    print(msg, flush=True)

async def worker():
    try:
        await anyio.sleep_forever()
    finally:
        say("worker cancelled")

async def main():
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        await anyio.wait_all_tasks_blocked()
        try:
            say("ready")
            await anyio.sleep_forever()
        except KeyboardInterrupt:
            say("draining")
            await anyio.sleep(0.01)
            say("drained")
            tg.cancel_scope.cancel()
    return "clean"

say("run returned " + repr(anyio.run(main, backend=sys.argv[1])))
"""


@pytest.mark.parametrize("backend", ["pike", "trio"])
def test_anyio_program_drains_on_ctrl_c_like_on_trio(backend: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", ANYIO_DRAIN, backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline().strip()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child hung: {out}\n{err}")
    assert [first, *out.splitlines()] == [
        "ready",
        "draining",
        "drained",
        "worker cancelled",
        "run returned 'clean'",
    ], err
    assert proc.returncode == 0
