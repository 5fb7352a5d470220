"""open_signal_receiver, on every notifier."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from _io_support import FdLeakCheck, Runner, run

import pike

__all__ = ["run"]


def test_receive_own_signals(run: Runner) -> None:
    async def main() -> None:
        original = signal.getsignal(signal.SIGUSR1)
        with pike.open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2) as receiver:
            assert signal.getsignal(signal.SIGUSR1) is not original
            os.kill(os.getpid(), signal.SIGUSR1)
            assert await receiver.__anext__() == signal.SIGUSR1
            # Two of a kind coalesce; order of first arrival is kept.
            os.kill(os.getpid(), signal.SIGUSR2)
            os.kill(os.getpid(), signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGUSR2)
            got = [await receiver.__anext__(), await receiver.__anext__()]
            assert got == [signal.SIGUSR2, signal.SIGUSR1]
        assert signal.getsignal(signal.SIGUSR1) is original

    with FdLeakCheck():
        run(main)


def test_signal_wakes_a_blocked_task(run: Runner) -> None:
    async def main() -> None:
        with pike.open_signal_receiver(signal.SIGUSR1) as receiver:

            def later() -> None:
                os.kill(os.getpid(), signal.SIGUSR1)

            timer = threading.Timer(0.05, later)
            timer.start()
            with pike.fail_after(5):
                async for signum in receiver:
                    assert signum == signal.SIGUSR1
                    break
            timer.join()

    run(main)


def test_pending_signals_are_redelivered_on_exit(run: Runner) -> None:
    seen = []

    def previous(signum: int, frame: object) -> None:
        seen.append(signum)

    async def main() -> None:
        with pike.open_signal_receiver(signal.SIGUSR1):
            os.kill(os.getpid(), signal.SIGUSR1)
            await pike.sleep(0.01)
        await pike.sleep(0)

    old = signal.signal(signal.SIGUSR1, previous)
    try:
        run(main)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert seen == [signal.SIGUSR1]


def test_receiver_errors(run: Runner) -> None:
    async def main() -> None:
        with pytest.raises(TypeError), pike.open_signal_receiver():
            pass
        # The wrong type is the point of this call (the ignore below).
        with pytest.raises(TypeError), pike.open_signal_receiver("SIGUSR1"):  # type: ignore[arg-type]
            pass
        with pike.open_signal_receiver(signal.SIGUSR1) as receiver:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(receiver.__anext__)
                await pike.sleep(0.01)
                with pytest.raises(pike.BusyResourceError):
                    await receiver.__anext__()
                nursery.cancel_scope.cancel()
        with pytest.raises(RuntimeError):
            await receiver.__anext__()

        errors = []

        def in_thread() -> None:
            try:
                with pike.open_signal_receiver(signal.SIGUSR1):
                    pass
            except RuntimeError as exc:
                errors.append(exc)

        await pike.to_thread.run_sync(in_thread)
        assert errors

    run(main)


def test_cancel_while_waiting(run: Runner) -> None:
    async def main() -> None:
        with pike.open_signal_receiver(signal.SIGUSR1) as receiver:
            with pike.move_on_after(0.01):
                await receiver.__anext__()
            os.kill(os.getpid(), signal.SIGUSR1)
            assert await receiver.__anext__() == signal.SIGUSR1

    run(main)
