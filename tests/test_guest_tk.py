"""Guest mode hosted by Tkinter's main loop, on a virtual X server (Xvfb)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import outcome
import pytest

import pike
import pike.lowlevel as ll

HANG_GUARD_MS = 60_000

tkinter = pytest.importorskip("tkinter", reason="this Python has no _tkinter module")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb server; ``-displayfd`` lets it pick a free display number."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install -y xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as reader:
            number = reader.readline().strip()
        if not number:
            pytest.skip(f"Xvfb exited without a display (status {proc.poll()})")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def tk_host(
    display: str, pike_fn: Callable[[], Awaitable[Any]], tk_side: Callable[[Any], None]
) -> outcome.Outcome[Any]:
    """Run ``pike_fn`` as a guest of a Tk main loop; ``tk_side(root)`` sets up Tk work."""
    try:
        root = tkinter.Tk(screenName=display)
    except tkinter.TclError as exc:
        pytest.skip(f"Tk cannot open display {display}: {exc}")
    root.withdraw()
    results: list[outcome.Outcome[Any]] = []
    host_thread = threading.get_ident()

    def threadsafe(fn: Callable[[], object]) -> None:
        # tkinter marshals calls from other threads onto the Tcl thread (threaded
        # Tcl); from the Tk thread itself it is an ordinary after().
        root.after(0, fn)

    def not_threadsafe(fn: Callable[[], object]) -> None:
        assert threading.get_ident() == host_thread
        root.after_idle(fn)

    def done(result: outcome.Outcome[Any]) -> None:
        results.append(result)
        root.quit()

    guard = root.after(HANG_GUARD_MS, root.quit)
    tk_side(root)
    ll.start_guest_run(
        pike_fn,
        run_sync_soon_threadsafe=threadsafe,
        run_sync_soon_not_threadsafe=not_threadsafe,
        done_callback=done,
    )
    root.mainloop()
    root.after_cancel(guard)
    root.destroy()
    assert results, "the guest run did not finish within the hang guard"
    return results[0]


def test_tk_host_runs_pike_tasks_beside_tk_timers(display: str) -> None:
    ticks = 0

    def tk_side(root: Any) -> None:
        def tick() -> None:
            nonlocal ticks
            ticks += 1
            root.after(5, tick)

        root.after(5, tick)

    async def main() -> dict[str, Any]:
        report: dict[str, Any] = {}
        # Tk timers fire while pike sleeps (the wait is in the helper thread).
        start = ticks
        with pike.fail_after(60):
            while ticks < start + 3:
                await pike.sleep(0.002)
        # Timeouts and cancellation inside the guest.
        with pike.move_on_after(0.02) as scope:
            await pike.sleep_forever()
        report["timeout"] = scope.cancelled_caught
        # Loopback sockets: a pike echo over a socketpair.
        a, b = pike.socket.socketpair()
        with a, b:
            async with pike.open_nursery() as nursery:

                async def echo() -> None:
                    data = await b.recv(100)
                    await b.send(data[::-1])

                nursery.start_soon(echo)
                await a.send(b"tk")
                report["echo"] = await a.recv(100)
        return report

    result = tk_host(display, main, tk_side)
    assert result.unwrap() == {"timeout": True, "echo": b"kt"}
    assert ticks >= 3


def test_tk_host_done_callback_gets_the_exception(display: str) -> None:
    async def main() -> None:
        await pike.sleep(0.001)
        raise KeyError("tk guest")

    result = tk_host(display, main, lambda root: None)
    assert isinstance(result, outcome.Error)
    assert isinstance(result.error, KeyError)
