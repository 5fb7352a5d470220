"""Guest mode hosted by asyncio: pike tasks run inside an asyncio event loop."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import pytest

import pike
import pike.lowlevel as ll
from pike.abc import Instrument

HANG_GUARD = 60.0


def host_run(
    pike_fn: Callable[[], Awaitable[Any]],
    asyncio_side: Callable[[], Awaitable[Any]] | None = None,
    **kwargs: Any,
) -> tuple[outcome.Outcome[Any], Any]:
    """Run ``pike_fn`` as a guest of a fresh asyncio loop, with ``asyncio_side`` beside it."""

    async def amain() -> tuple[outcome.Outcome[Any], Any]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[outcome.Outcome[Any]] = loop.create_future()
        ll.start_guest_run(
            pike_fn,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done.set_result,
            **kwargs,
        )
        side = None
        if asyncio_side is not None:
            side = await asyncio.wait_for(asyncio_side(), HANG_GUARD)
        return await asyncio.wait_for(done, HANG_GUARD), side

    return asyncio.run(amain())


def test_done_callback_gets_the_value() -> None:
    async def main() -> str:
        await pike.sleep(0.001)
        return "pike result"

    result, _ = host_run(main)
    assert result == outcome.Value("pike result")


def test_done_callback_gets_the_exception() -> None:
    async def main() -> None:
        await pike.lowlevel.checkpoint()
        raise LookupError("from the guest")

    result, _ = host_run(main)
    assert isinstance(result, outcome.Error)
    with pytest.raises(LookupError, match="from the guest"):
        result.unwrap()


def test_sockets_timeouts_and_cancellation_while_asyncio_tasks_run() -> None:
    """pike serves TCP on loopback; an asyncio client talks to it; both loops stay live."""
    port_ready: asyncio.Future[int] | None = None
    ticks = 0
    loop_holder: list[asyncio.AbstractEventLoop] = []

    async def echo(stream: pike.SocketStream) -> None:
        while data := await stream.receive_some(1024):
            await stream.send_all(data.upper())

    async def pike_main() -> dict[str, Any]:
        report: dict[str, Any] = {}
        async with pike.open_nursery() as nursery:
            serve = functools.partial(pike.serve_tcp, echo, 0, host="127.0.0.1")
            listeners = await nursery.start(serve)
            port = listeners[0].socket.getsockname()[1]
            ready = port_ready
            assert ready is not None  # set before the guest run starts
            loop_holder[0].call_soon_threadsafe(ready.set_result, port)
            # A timeout that fires, with the asyncio side busy meanwhile.
            with pike.move_on_after(0.05) as scope:
                await pike.sleep_forever()
            report["timeout_fired"] = scope.cancelled_caught
            # The asyncio ticker advances while pike sleeps between its checks.
            start_ticks = ticks
            with pike.fail_after(HANG_GUARD):
                while ticks < start_ticks + 3:
                    await pike.sleep(0.002)
            # A fail_after that does not fire.
            with pike.fail_after(HANG_GUARD):
                await pike.sleep(0.001)
            # Cancellation of a sibling parked forever.
            cancelled = pike.Event()

            async def parked() -> None:
                try:
                    await pike.sleep_forever()
                finally:
                    cancelled.set()

            async with pike.open_nursery() as inner:
                inner.start_soon(parked)
                await pike.testing.wait_all_tasks_blocked()
                inner.cancel_scope.cancel()
            report["sibling_cancelled"] = cancelled.is_set()
            # Talk to ourselves too: a pike client against the pike server.
            stream = await pike.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(b"self")
            report["self_echo"] = await stream.receive_some(100)
            await stream.aclose()
            # Wait for the asyncio client to finish before closing the server.
            await client_done.wait()
            nursery.cancel_scope.cancel()
        return report

    client_done = pike.Event()

    async def asyncio_side() -> bytes:
        nonlocal ticks, port_ready

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        tick_tasks.append(asyncio.create_task(ticker()))
        assert port_ready is not None
        port = await port_ready
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello from asyncio")
        await writer.drain()
        reply = await reader.readexactly(len(b"hello from asyncio"))
        writer.close()
        await writer.wait_closed()
        token = token_holder[0]
        token.run_sync_soon(client_done.set)
        return reply

    token_holder: list[ll.RunToken] = []
    tick_tasks: list[asyncio.Task[None]] = []

    async def pike_entry() -> dict[str, Any]:
        token_holder.append(ll.current_token())
        return await pike_main()

    async def amain() -> tuple[outcome.Outcome[Any], bytes]:
        nonlocal port_ready
        loop = asyncio.get_running_loop()
        loop_holder.append(loop)
        port_ready = loop.create_future()
        done: asyncio.Future[outcome.Outcome[Any]] = loop.create_future()
        ll.start_guest_run(
            pike_entry,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done.set_result,
        )
        reply = await asyncio.wait_for(asyncio_side(), HANG_GUARD)
        result = await asyncio.wait_for(done, HANG_GUARD)
        tick_tasks[0].cancel()
        return result, reply

    result, reply = asyncio.run(amain())
    report = result.unwrap()
    assert reply == b"HELLO FROM ASYNCIO"
    assert report == {"timeout_fired": True, "sibling_cancelled": True, "self_echo": b"SELF"}
    assert ticks >= 3, "asyncio tasks must keep running while pike waits"


def test_fail_after_in_guest_reaches_done_callback() -> None:
    async def main() -> None:
        with pike.fail_after(0.01):
            await pike.sleep_forever()

    result, _ = host_run(main)
    assert isinstance(result, outcome.Error)
    assert isinstance(result.error, pike.TooSlowError)


def test_sniffio_and_current_run_per_tick() -> None:
    """Inside pike tasks sniffio says "pike"; asyncio code between ticks still sees asyncio."""
    import sniffio

    seen: dict[str, str] = {}

    async def main() -> None:
        seen["pike"] = sniffio.current_async_library()
        await pike.sleep(0.02)

    async def asyncio_side() -> None:
        await asyncio.sleep(0.005)
        seen["asyncio"] = sniffio.current_async_library()

    result, _ = host_run(main, asyncio_side)
    result.unwrap()
    assert seen == {"pike": "pike", "asyncio": "asyncio"}


def test_instruments_run_on_the_host_thread() -> None:
    threads: set[int] = set()
    hooks: list[str] = []

    class Where(Instrument):
        def before_io_wait(self, timeout: float) -> None:
            threads.add(threading.get_ident())
            hooks.append("before_io_wait")

        def task_scheduled(self, task: ll.Task) -> None:
            threads.add(threading.get_ident())
            hooks.append("task_scheduled")

        def after_run(self) -> None:
            hooks.append("after_run")

    async def main() -> None:
        await pike.sleep(0.01)  # a blocking wait in the helper thread

    host_thread: list[int] = []

    async def asyncio_side() -> None:
        host_thread.append(threading.get_ident())

    result, _ = host_run(main, asyncio_side, instruments=[Where()])
    result.unwrap()
    assert threads == set(host_thread)
    assert hooks[-1] == "after_run"
    assert "before_io_wait" in hooks and "task_scheduled" in hooks


def test_second_guest_run_in_the_same_thread_is_refused() -> None:
    async def main() -> None:
        await pike.sleep(0.01)

    errors: list[BaseException] = []

    async def asyncio_side() -> None:
        loop = asyncio.get_running_loop()
        for start in (
            lambda: ll.start_guest_run(
                main, run_sync_soon_threadsafe=loop.call_soon_threadsafe, done_callback=print
            ),
            lambda: pike.run(main),
        ):
            try:
                start()
            except RuntimeError as exc:
                errors.append(exc)

    result, _ = host_run(main, asyncio_side)
    result.unwrap()
    assert len(errors) == 2


def test_bad_arguments() -> None:
    async def main() -> None:
        pass

    with pytest.raises(TypeError, match="run_sync_soon_threadsafe"):
        # The wrong type is the point of this call (the ignore below).
        ll.start_guest_run(main, run_sync_soon_threadsafe=None, done_callback=print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="done_callback"):
        # The wrong type is the point of this call (the ignore below).
        ll.start_guest_run(main, run_sync_soon_threadsafe=print, done_callback=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="run_sync_soon_not_threadsafe"):
        ll.start_guest_run(
            main,
            run_sync_soon_threadsafe=print,
            done_callback=print,
            run_sync_soon_not_threadsafe="no",  # type: ignore[arg-type]  # wrong on purpose
        )
    coro = main()
    try:
        with pytest.raises(TypeError):
            # The wrong type is the point of this call (the ignore below).
            ll.start_guest_run(coro, run_sync_soon_threadsafe=print, done_callback=print)  # type: ignore[arg-type]
    finally:
        coro.close()
    # Nothing was left installed: a normal run still works in this thread.
    pike.run(main)


def _run_script(source: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=env,
    )


def test_ctrl_c_reaches_the_guest_as_keyboard_interrupt() -> None:
    # A host loop that leaves SIGINT alone (no asyncio.run, which installs its own
    # handler): pike installs its handler, as trio's guest mode does.
    proc = _run_script(
        """
        import asyncio, os, signal, threading
        import pike, pike.lowlevel as ll

        async def main():
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
            await pike.sleep_forever()

        loop = asyncio.new_event_loop()
        done = loop.create_future()
        async def host():
            ll.start_guest_run(main, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                               done_callback=done.set_result)
            return await done
        result = loop.run_until_complete(host())
        print("outcome", type(result).__name__, type(result.error).__name__)
        print("handler restored", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "outcome Error KeyboardInterrupt" in proc.stdout
    assert "handler restored True" in proc.stdout


@pytest.mark.parametrize("case", ["forever", "short"])
def test_host_stopping_early_does_not_hang_interpreter_exit(case: str) -> None:
    """The host loop stops while pike waits (forever, or with a timer pending).

    The run is abandoned: done_callback never runs, the helper thread is a daemon
    blocked in the wait (or finds the host's loop closed when it wakes, for
    "short"), and the process exits normally without a traceback.
    """
    proc = _run_script(
        f"""
        import asyncio, time
        import pike, pike.lowlevel as ll

        async def forever():
            await pike.sleep_forever()

        async def short():
            async with pike.open_nursery() as nursery:
                nursery.start_soon(pike.sleep_forever)
                await pike.sleep(0.2)

        loop = asyncio.new_event_loop()
        finished = []
        ll.start_guest_run({case}, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                           done_callback=finished.append)
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()
        print("abandoned", finished == [])
        time.sleep(0.4)  # for "short": its wait returns into the closed loop meanwhile
        print("exiting")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "abandoned True" in proc.stdout
    assert "exiting" in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("host_uses_fd", [False, True])
def test_signal_wakeup_fd_policy(host_uses_fd: bool) -> None:
    """host_uses_signal_set_wakeup_fd=True leaves the wake-up fd to the host (trio's rule)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal wake-up fds belong to the main thread only")

    def current_wakeup_fd() -> int:
        fd = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(fd)
        return fd

    async def main() -> int:
        return current_wakeup_fd()

    before = current_wakeup_fd()
    result, _ = host_run(main, host_uses_signal_set_wakeup_fd=host_uses_fd)
    during = result.unwrap()
    assert before == -1
    if host_uses_fd:
        assert during == -1
    else:
        assert during >= 0
    assert current_wakeup_fd() == -1, "the guest run restores the wake-up fd"
