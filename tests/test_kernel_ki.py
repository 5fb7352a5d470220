"""Ctrl-C: SIGINT during pike.run ends the run with KeyboardInterrupt after unwinding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import pike
from pike import lowlevel
from pike.testing import wait_all_tasks_blocked

PRELUDE = textwrap.dedent(
    """
    import os, sys, time, threading
    import pike
    from pike.testing import wait_all_tasks_blocked

    def say(msg):
        print(msg, flush=True)

    async def sleeper(name):
        try:
            await pike.sleep_forever()
        finally:
            say(f"finally {name}")
    """
)

# Each body defines `async def main()` that prints "ready" once it wants SIGINT.
SCENARIOS = {
    "blocked": """
        async def main():
            try:
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(sleeper, "a")
                    nursery.start_soon(sleeper, "b")
                    await wait_all_tasks_blocked()
                    say("ready")
                    await pike.sleep_forever()
            finally:
                say("finally main")
        EXPECT = ["finally a", "finally b", "finally main"]
    """,
    "busy": """
        async def spinner():
            try:
                while True:
                    await pike.lowlevel.checkpoint()
            finally:
                say("finally spinner")

        async def main():
            try:
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(spinner)
                    nursery.start_soon(sleeper, "a")
                    await pike.sleep(0.01)
                    say("ready")
                    while True:
                        await pike.sleep(0)
            finally:
                say("finally main")
        EXPECT = ["finally spinner", "finally a", "finally main"]
    """,
    "not_at_checkpoint": """
        async def main():
            try:
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(sleeper, "a")
                    await wait_all_tasks_blocked()
                    say("ready")
                    time.sleep(0.3)  # SIGINT lands here, outside any checkpoint
                    say("after blocking sleep")
                    await pike.sleep_forever()
            finally:
                say("finally main")
        EXPECT = ["after blocking sleep", "finally a", "finally main"]
    """,
    "in_thread": """
        def blocking():
            say("ready")
            time.sleep(0.3)
            say("thread done")

        async def main():
            try:
                await pike.to_thread.run_sync(blocking)
                await pike.sleep_forever()
            finally:
                say("finally main")
        EXPECT = ["thread done", "finally main"]
    """,
    "shielded_cleanup": """
        async def careful():
            try:
                await pike.sleep_forever()
            finally:
                with pike.CancelScope(shield=True):
                    await pike.sleep(0.05)
                    await pike.to_thread.run_sync(time.sleep, 0.01)
                say("finally careful")

        async def main():
            async with pike.open_nursery() as nursery:
                nursery.start_soon(careful)
                await wait_all_tasks_blocked()
                say("ready")
        EXPECT = ["finally careful"]
    """,
}

RUNNER_UNCAUGHT = """
    say("expect " + "|".join(EXPECT))
    pike.run(main, notifier=NOTIFIER)
    say("run returned normally")
"""

RUNNER_CAUGHT = """
    say("expect " + "|".join(EXPECT))
    try:
        pike.run(main, notifier=NOTIFIER)
    except KeyboardInterrupt:
        say("caught KeyboardInterrupt")
        sys.exit(42)
    say("run returned normally")
"""


def run_child(body: str, runner: str, notifier: str) -> tuple[int, list[str], str]:
    source = (
        PRELUDE
        + f"NOTIFIER = {notifier!r}\n"
        + textwrap.dedent(body)
        + textwrap.dedent(runner)
    )
    env = dict(os.environ, PYTHONWARNINGS="default", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-X", "dev", "-c", source],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                break
        else:
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"child never got ready: {lines!r}\n{err}")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child hung after SIGINT:\n{out}\n{err}")
    lines.extend(out.splitlines())
    return proc.returncode, lines, err


def _check_output(lines: list[str], err: str) -> None:
    expected = lines[0].removeprefix("expect ").split("|")
    after_ready = lines[lines.index("ready") + 1 :]
    for item in expected:
        assert item in after_ready, f"{item!r} missing; stdout={lines!r}\nstderr={err}"
    assert "run returned normally" not in lines
    assert "never awaited" not in err
    assert "RuntimeWarning" not in err
    assert "ResourceWarning" not in err


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_sigint_uncaught_exits_with_keyboard_interrupt(scenario: str, notifier: str) -> None:
    code, lines, err = run_child(SCENARIOS[scenario], RUNNER_UNCAUGHT, notifier)
    _check_output(lines, err)
    assert "KeyboardInterrupt" in err
    # Python re-raises SIGINT for an uncaught KeyboardInterrupt, so the exit
    # status says "killed by SIGINT".
    assert code == -signal.SIGINT, (code, lines, err)


@pytest.mark.parametrize("scenario", ["blocked", "busy"])
def test_sigint_raises_catchable_keyboard_interrupt(scenario: str) -> None:
    code, lines, err = run_child(SCENARIOS[scenario], RUNNER_CAUGHT, "epoll")
    _check_output(lines, err)
    assert "caught KeyboardInterrupt" in lines
    assert code == 42, (code, lines, err)
    assert "Traceback" not in err


# -- in-process ----------------------------------------------------------------------


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
)
def test_sigint_in_process_and_handler_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    finally_ran: list[bool] = []

    async def main() -> None:
        try:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(pike.sleep_forever)
                await wait_all_tasks_blocked()
                os.kill(os.getpid(), signal.SIGINT)
                await pike.sleep_forever()
        finally:
            finally_ran.append(True)

    with pytest.raises(KeyboardInterrupt):
        pike.run(main)
    assert finally_ran == [True]
    assert signal.getsignal(signal.SIGINT) is before


def test_custom_sigint_handler_is_left_alone() -> None:
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)

    async def main() -> str:
        assert signal.getsignal(signal.SIGINT) is handler
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):
            await lowlevel.checkpoint()
            if seen:
                break
        return "finished"

    old = signal.signal(signal.SIGINT, handler)
    try:
        assert pike.run(main) == "finished"
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen == [signal.SIGINT]


def test_run_in_non_main_thread_does_not_touch_signals() -> None:
    results: list[object] = []

    async def main() -> str:
        await pike.sleep(0)
        return "ok"

    def thread_main() -> None:
        try:
            results.append(pike.run(main))
        except BaseException as exc:
            results.append(exc)

    before = signal.getsignal(signal.SIGINT)
    t = threading.Thread(target=thread_main)
    t.start()
    t.join(30)
    assert results == ["ok"]
    assert signal.getsignal(signal.SIGINT) is before
