"""The run loop as a generator: the variant used by instruments and guest mode.

``Runner._run_until`` is the fast loop; it has no hooks and never gives
control away. This one does the same work per iteration (same order: wait,
expire deadlines, run callbacks, deliver Ctrl-C, wake idle waiters, run one
batch) but

* calls the instruments' hooks around each task step and each I/O wait, and
* yields before every I/O wait instead of blocking, sending back how many
  events the caller's wait saw. ``pike.run`` with instruments performs the
  wait right away (``drive_variants``); guest mode performs it in a helper
  thread and resumes the generator from the host loop (``_guest``).

It yields ``None`` when no wait is due this iteration (the host still gets
control back between batches), else the timeout (0 for a poll).
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from . import _state
from ._ki import register_loop_code
from ._runner import (
    _HANDOFF_SECONDS,
    _NOT_IDLE,
    _POLL_INTERVAL,
    _WAKE_IDLE_WAITERS,
)
from ._task import CHECK_CANCEL
from ._traps import CHECKPOINT, SHIELDED_CHECKPOINT

if TYPE_CHECKING:
    from ._runner import Runner

_perf_counter = time.perf_counter


def init_finished(runner: Runner) -> bool:
    init = runner.init_task
    return init is not None and inspect.getcoroutinestate(init.coro) == inspect.CORO_CLOSED


def clear_loop_switch(runner: Runner) -> None:
    """Undo the ``_stop`` that asked the plain loop to hand over (see _instruments)."""
    runner._loop_switch = False
    runner._stop = init_finished(runner)


def steps(
    runner: Runner, until: Callable[[], bool] | None, guest: bool
) -> Generator[float | None, int, None]:
    """Run the loop, yielding at every I/O wait; return when the run ends.

    Outside guest mode it also returns once no instrument is left, so that
    the caller can go back to the plain loop.
    """
    runq = runner.runq
    timers = runner.timers
    clock = runner.clock
    local = _state.local
    last_poll = 0.0
    last_handoff = _perf_counter()
    handoff_every = sys.getswitchinterval()
    while True:
        if runner._loop_switch:
            clear_loop_switch(runner)
        if runner._stop:
            break
        if until is not None and until():
            return
        instruments = runner.instruments
        if not guest and not instruments:
            return
        idle = _NOT_IDLE
        timeout: float | None
        if runq or runner.entries or runner.idempotent_entries:
            now = _perf_counter()
            if guest or now - last_poll >= _POLL_INTERVAL:
                if (
                    not guest
                    and now - last_handoff >= handoff_every
                    and threading.active_count() > 1
                ):
                    # Let other threads have the GIL (see Runner._run_until);
                    # a guest gives the host thread back after every batch.
                    time.sleep(_HANDOFF_SECONDS)
                    now = last_handoff = _perf_counter()
                last_poll = now
                timeout = 0.0
            else:
                timeout = None
        else:
            timeout, idle = runner._plan_idle_wait()
        if timeout is None:
            events = yield None
        else:
            if instruments:
                instruments.call("before_io_wait", timeout)
            if timeout > 0:
                runner.polling = True
            try:
                events = yield timeout
            finally:
                runner.polling = False
            if instruments:
                instruments.call("after_io_wait", timeout)
            last_poll = _perf_counter()
            if timeout > 0:
                last_handoff = last_poll
        if timers.heap:
            for scope in timers.pop_expired(clock.current_time()):
                scope.cancel("deadline exceeded")
        if runner.entries or runner.idempotent_entries:
            runner._run_entries()
        if runner.ki_pending:
            runner._deliver_ki()
        if idle != _NOT_IDLE and not events and not runq:
            if idle == _WAKE_IDLE_WAITERS:
                runner._wake_idle_waiters()
            else:
                jump = runner._autojump
                if jump is not None:
                    jump(timers.next_deadline())
        _run_batch(runner, runq, local)
    if runner.instruments:
        runner.instruments.call("after_run")


def _run_batch(runner: Runner, runq: object, local: _state._Local) -> None:
    """One batch: every task runnable now steps once, hooks around each step."""
    from collections import deque

    assert isinstance(runq, deque)
    task_exited = runner._task_exited
    for _ in range(len(runq)):
        task = runq.popleft()
        instruments = runner.instruments
        if instruments:
            instruments.call("before_task_step", task)
        local.task = task
        exc = task._next_exc
        try:
            if exc is None:
                value = task._next_value
                task._next_value = None
                yielded = task.context.run(task._send, value)
            else:
                task._next_exc = None
                if exc is CHECK_CANCEL:
                    if task._cancel_scope._effective:
                        exc = task._new_cancelled()
                        yielded = task.context.run(task.coro.throw, exc)
                    else:
                        yielded = task.context.run(task._send, None)
                else:
                    yielded = task.context.run(task.coro.throw, exc)
        except StopIteration as stop:
            local.task = None
            task_exited(task, stop.value, None)
            _after_exit(runner, task)
            continue
        except BaseException as error:
            local.task = None
            task_exited(task, None, error)
            del error
            _after_exit(runner, task)
            continue
        local.task = None
        if yielded is CHECKPOINT or yielded is SHIELDED_CHECKPOINT:
            if yielded is CHECKPOINT:
                task._next_exc = CHECK_CANCEL
            runq.append(task)
            if runner.instruments:
                runner.instruments.call("after_task_step", task)
                runner.instruments.call("task_scheduled", task)
            continue
        if callable(yielded):
            task._abort_fn = yielded
            if task._cancel_scope._effective:
                runner.deliver_cancel(task)
        else:
            task._next_exc = TypeError(
                f"pike tasks cannot await {yielded!r}: it belongs to another "
                "async library (use pike's or anyio's API instead)"
            )
            runq.append(task)
        if runner.instruments:
            runner.instruments.call("after_task_step", task)


# A Ctrl-C landing in a task's frame is judged by the task's protection, as in
# the plain loop (see _ki.frame_is_protected).
register_loop_code(_run_batch.__code__)


def _after_exit(runner: Runner, task: object) -> None:
    instruments = runner.instruments
    if instruments:
        instruments.call("after_task_step", task)
        instruments.call("task_exited", task)


def drive_variants(runner: Runner, until: Callable[[], bool] | None) -> None:
    """Called by ``Runner.drive``: alternate loops as instruments come and go."""
    while True:
        if runner._loop_switch:
            clear_loop_switch(runner)
        if runner._stop or (until is not None and until()):
            return
        if runner.instruments:
            _drive_steps(runner, until)
        else:
            runner._run_until(until)
            if not runner._loop_switch:
                return


def _drive_steps(runner: Runner, until: Callable[[], bool] | None) -> None:
    notifier = runner.notifier
    gen = steps(runner, until, guest=False)
    try:
        timeout = next(gen)
        while True:
            if timeout is None:
                events = 0
            elif timeout > 0 and runner.debug:
                events = runner._debug_idle_wait(timeout)
            else:
                events = notifier.wait(timeout)
            timeout = gen.send(events)
    except StopIteration:
        return
