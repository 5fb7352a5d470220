"""Guest mode: pike's scheduler running inside another event loop.

The host (asyncio, a GUI toolkit) owns the thread. pike's loop runs as the
stepwise generator (``_stepwise.steps``); each "tick" is one resumption of it,
run on the host thread through the host's ``run_sync_soon`` callbacks:

* the generator asks for no wait or a poll (tasks are runnable): the tick
  polls at once and asks the host for the next tick (not thread-safe variant);
* it asks for a blocking wait: the wait runs in a daemon helper thread while
  the host carries on; when it returns, the helper asks the host (thread-safe
  variant) for the next tick.

The helper thread only blocks in ``Notifier.wait``. The tasks that wait wakes
are collected there and rescheduled on the host thread, so instruments and
the run queue are only ever touched from the host thread.

What stays installed on the host thread for the whole run: the "current run"
(so a second run or guest run in this thread is refused) and, on the main
thread, pike's SIGINT handler if the host left Python's default one (trio's
rule). What is installed only during ticks: sniffio's current library and the
async-generator hooks, so the host's own code and generators are not taken for
pike's between ticks.

If the host stops before the run ends, nothing joins the helper thread: it is
a daemon blocked in the wait, so interpreter exit does not hang; if the wait
returns later and the host's callback raises (its loop is closed), the thread
exits quietly. The run itself is abandoned: its tasks never resume.
"""

from __future__ import annotations

import functools
import queue
import signal
import threading
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import Any

import outcome
import sniffio

from . import _state
from ._clock import Clock
from ._instruments import Instrument, install_at_start, shadow_methods
from ._run import _check_run_args, _new_runner
from ._runner import STUCK_REPORT_SECONDS, Runner, _forget_current_run
from ._stepwise import steps
from ._task import Task


class _IOWaitThread:
    """A daemon thread that performs the blocking notifier waits of one guest run."""

    def __init__(self, runner: Runner, deliver: Callable[[outcome.Outcome[int]], None]) -> None:
        self._runner = runner
        self._deliver = deliver
        self._requests: queue.SimpleQueue[float | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, name="pike guest-mode I/O wait", daemon=True
        )
        self._thread.start()

    def request(self, timeout: float) -> None:
        self._requests.put(timeout)

    def stop(self) -> None:
        self._requests.put(None)

    def _serve(self) -> None:
        notifier = self._runner.notifier
        while True:
            timeout = self._requests.get()
            if timeout is None:
                return
            result: outcome.Outcome[int] = outcome.capture(notifier.wait, timeout)
            try:
                self._deliver(result)
            except BaseException:
                # The host cannot take callbacks any more (its loop closed):
                # the run is abandoned, and this thread has nothing left to do.
                return


class GuestRun:
    """One guest run: the generator, the helper thread, and the host's callbacks."""

    def __init__(
        self,
        runner: Runner,
        run_sync_soon_threadsafe: Callable[[Callable[[], object]], object],
        run_sync_soon_not_threadsafe: Callable[[Callable[[], object]], object],
        done_callback: Callable[[outcome.Outcome[Any]], object],
        host_uses_signal_set_wakeup_fd: bool,
    ) -> None:
        self.runner = runner
        self._threadsafe = run_sync_soon_threadsafe
        self._not_threadsafe = run_sync_soon_not_threadsafe
        self._done_callback = done_callback
        self._host_uses_wakeup_fd = host_uses_signal_set_wakeup_fd
        self._gen: Generator[float | None, int, None] = steps(runner, None, guest=True)
        self._events = 0
        self._started = False
        self._woken: list[tuple[Task, Any]] = []
        self._waiter: _IOWaitThread | None = None
        self._undo: list[Callable[[], object]] = []

    # -- lifetime ------------------------------------------------------------------

    def start(self) -> None:
        runner = self.runner
        _state.local.runner = runner
        self._undo.append(_forget_current_run)
        try:
            if threading.current_thread() is threading.main_thread():
                self._install_signal_handling()
            self._waiter = _IOWaitThread(runner, self._deliver_wait)
            self._threadsafe(self._tick)
        except BaseException:
            self._teardown()
            raise

    def _install_signal_handling(self) -> None:
        runner = self.runner
        if not self._host_uses_wakeup_fd:
            # Same policy as pike.run: our wake-up fd unless someone has one.
            try:
                runner._install_signal_handling()
            finally:
                self._undo.extend(runner._undo)
                runner._undo.clear()
            return
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous = signal.signal(signal.SIGINT, runner._on_sigint)
            self._undo.append(lambda: signal.signal(signal.SIGINT, previous))

    def _teardown(self) -> None:
        while self._undo:
            self._undo.pop()()
        if self._waiter is not None:
            self._waiter.stop()

    # -- ticks (host thread) ---------------------------------------------------------

    def _tick(self) -> None:
        runner = self.runner
        previous_library = sniffio.thread_local.name
        sniffio.thread_local.name = "pike"
        runner.asyncgens.install()
        try:
            if self._woken:
                woken, self._woken = self._woken, []
                for task, value in woken:
                    runner.reschedule(task, value)
            if not self._started:
                self._started = True
                timeout = next(self._gen)
            else:
                timeout = self._gen.send(self._events)
        except StopIteration:
            self._finish(None)
            return
        except BaseException as exc:
            self._finish(exc)
            return
        finally:
            runner.asyncgens.uninstall()
            sniffio.thread_local.name = previous_library
        if timeout is None:
            self._events = 0
            self._not_threadsafe(self._tick)
        elif timeout <= 0:
            self._events = self._poll_now()
            self._not_threadsafe(self._tick)
        else:
            self._wait_in_thread(timeout)

    def _poll_now(self) -> int:
        try:
            return self.runner.notifier.wait(0.0)
        except BaseException:
            return 0  # surfaces again on the next poll, inside the run

    def _wait_in_thread(self, timeout: float) -> None:
        runner = self.runner
        woken = self._woken

        def collect(task: Task, value: Any = None) -> None:
            woken.append((task, value))

        # The notifier reschedules what it wakes; in the helper thread that
        # must not touch the run queue, so the wakes are only recorded here: the
        # instance-dict entry shadows the method until _after_wait pops it.
        vars(runner)["reschedule"] = collect
        assert self._waiter is not None
        self._waiter.request(timeout)

    def _deliver_wait(self, result: outcome.Outcome[int]) -> None:
        # Helper thread: hand the result to the host.
        self._threadsafe(functools.partial(self._after_wait, result))

    def _after_wait(self, result: outcome.Outcome[int]) -> None:
        runner = self.runner
        runner.__dict__.pop("reschedule", None)
        if runner.instruments:
            shadow_methods(runner)  # the hooked reschedule, as before the wait
        if isinstance(result, outcome.Error):
            self._events = 0
            self._finish(result.error)
            return
        self._events = result.unwrap()
        self._tick()

    def _finish(self, crash: BaseException | None) -> None:
        runner = self.runner
        try:
            if crash is None:
                runner._close_entries()
        except BaseException as exc:
            crash = exc
        finally:
            self._teardown()
            runner.close()
        result: outcome.Outcome[Any] = (
            outcome.Error(crash) if crash is not None else outcome.capture(runner.outcome)
        )
        self._done_callback(result)


def _check_callable(name: str, value: object) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")


def start_guest_run(
    async_fn: Callable[..., Awaitable[Any]],
    *args: Any,
    run_sync_soon_threadsafe: Callable[[Callable[[], object]], object],
    done_callback: Callable[[outcome.Outcome[Any]], object],
    run_sync_soon_not_threadsafe: Callable[[Callable[[], object]], object] | None = None,
    host_uses_signal_set_wakeup_fd: bool = False,
    clock: Clock | None = None,
    instruments: Iterable[Instrument] = (),
) -> None:
    """Start ``async_fn(*args)`` as a pike run hosted by another event loop.

    Returns at once; the run proceeds in callbacks the host runs. The host
    supplies ``run_sync_soon_threadsafe(fn)`` (callable from any thread: call
    ``fn()`` soon on the host thread) and optionally a cheaper
    ``run_sync_soon_not_threadsafe`` for calls made from the host thread.
    When the run ends, ``done_callback`` receives an ``outcome.Outcome`` with
    the main task's result or exception (``KeyboardInterrupt`` after a
    Ctrl-C the run received). Raises ``RuntimeError`` if a pike run, guest or
    not, is already active in this thread.
    """
    _check_callable("run_sync_soon_threadsafe", run_sync_soon_threadsafe)
    _check_callable("done_callback", done_callback)
    if run_sync_soon_not_threadsafe is None:
        run_sync_soon_not_threadsafe = run_sync_soon_threadsafe
    _check_callable("run_sync_soon_not_threadsafe", run_sync_soon_not_threadsafe)
    if _state.local.runner is not None:
        raise RuntimeError("a pike run (guest or not) is already active in this thread")
    _check_run_args(async_fn)
    runner = _new_runner(clock, None, False, STUCK_REPORT_SECONDS)
    try:
        install_at_start(runner, instruments)
        runner.begin(async_fn, args)
    except BaseException:
        runner.close()
        raise
    guest = GuestRun(
        runner,
        run_sync_soon_threadsafe,
        run_sync_soon_not_threadsafe,
        done_callback,
        bool(host_uses_signal_set_wakeup_fd),
    )
    try:
        guest.start()
    except BaseException:
        runner.close()
        raise
