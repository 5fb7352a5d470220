"""The run loop: a ready queue, a deadline heap and a notifier.

One iteration: block in the notifier (not at all if tasks are ready), cancel
the scopes whose deadline passed, run callbacks posted from other threads, then
run every task that was ready at the start of the batch once. Tasks rescheduled
during a batch run in the next one, after I/O has been polled again, so a busy
task cannot starve I/O.
"""

from __future__ import annotations

import collections
import contextvars
import inspect
import itertools
import math
import signal
import sys
import threading
import time
import types
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import sniffio

from .._notifier import Notifier, default_notifier
from . import _state
from ._asyncgens import AsyncGenTracker
from ._cancel import CancelScope
from ._clock import AutojumpClock, Clock, SystemClock
from ._exceptions import Cancelled, PikeInternalError, RunFinishedError
from ._instruments import InstrumentSet
from ._ki import frame_is_protected, raise_keyboard_interrupt, register_loop_code
from ._nursery import Nursery, open_nursery
from ._spawn_checks import check_coroutine, coroutine_or_error
from ._task import ABORT_DECLINED, CHECK_CANCEL, Task
from ._token import RunToken
from ._traps import (
    CHECKPOINT,
    SHIELDED_CHECKPOINT,
    Abort,
    _raise_cancelled,
)

_INF = math.inf
_FunctionType = types.FunctionType
_CoroutineType = types.CoroutineType
# debug=True warns when one batch of task steps runs at least this long.
SLOW_BATCH_SECONDS = 0.1
# debug=True prints the task tree once the loop has been idle this long (seconds).
STUCK_REPORT_SECONDS = 10.0
# While tasks are runnable, poll the notifier at most this often (seconds).
_POLL_INTERVAL = 0.0002
_perf_counter = time.perf_counter
# The run loop's own clock: time.monotonic, which is what SystemClock reads, so
# one call both paces the I/O polls and tells whether a deadline has passed.
_monotonic = time.monotonic
# Batches chained without a loop turn read the clock once per this many steps.
_CHAIN_STEPS = 8
# Fair sharing of the GIL with other threads while tasks keep the loop busy.
# A thread that wants the GIL waits one switch interval and then forces a
# hand-over, but every voluntary release (the 0-timeout I/O poll above)
# restarts that wait, and the loop's thread takes the GIL straight back from
# its own syscall before a waiter that is not already on a CPU can grab it: a
# busy loop could starve other threads for a very long time. So, once per
# switch interval of busy running, and only if other threads exist, the loop
# sleeps briefly, which really lets a waiting thread in.
_HANDOFF_SECONDS = 0.00005
_active_threads = threading.active_count
_sleep = time.sleep


# Why the loop is about to block in the notifier, and what to do if the wait
# times out with nothing else to run (plain ints: compared in the hot loop).
_NOT_IDLE = 0  # tasks are runnable: the wait is a non-blocking poll
_WAKE_IDLE_WAITERS = 1  # the timeout is the smallest wait_all_tasks_blocked cushion
_AUTOJUMP = 2  # the timeout is the MockClock's autojump threshold



def _forget_current_run() -> None:
    _state.local.runner = None
    _state.local.task = None


class Runner:
    """The state of one ``pike.run``."""

    def __init__(
        self, clock: Clock | None, notifier: Notifier | None, debug: bool = False
    ) -> None:
        self.debug = debug
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.notifier: Notifier = notifier if notifier is not None else default_notifier()
        self.runq: collections.deque[Task] = collections.deque()
        from ._timers import Timers

        self.timers = Timers()
        self.entries: collections.deque[tuple[Callable[..., object], tuple[Any, ...]]] = (
            collections.deque()
        )
        self.idempotent_entries: dict[tuple[Callable[..., object], tuple[Any, ...]], None] = {}
        self.token = RunToken(self)
        self.entry_lock = threading.Lock()
        self.thread_id = threading.get_ident()
        self.polling = False
        self.closed = False
        self._released = False
        self.ki_pending = False
        # A MockClock's autojump; the clock updates it if changed mid-run.
        self.autojump_threshold = _INF
        self._autojump: Callable[[float], None] | None = None
        if isinstance(self.clock, AutojumpClock):
            self.autojump_threshold = self.clock.autojump_threshold
            self._autojump = self.clock._autojump
        # wait_all_tasks_blocked: sorted [(cushion, tiebreak, task)]
        self.idle_waiters: list[tuple[float, int, Task]] = []
        self._idle_counter = itertools.count()
        self.runvars: dict[Any, Any] = {}
        self.asyncgens = AsyncGenTracker(self)
        self.system_context = contextvars.copy_context()
        self.init_task: Task | None = None
        self.main_task: Task | None = None
        self.system_nursery: Nursery | None = None
        self.main_outcome: tuple[Any, BaseException | None] | None = None
        self.system_errors: list[BaseException] = []
        self.ki_delivered = False
        # Ctrl-C: ki_seen after the first SIGINT; ki_hard once a later one found
        # only protected code running (the loop then stops the run if the main
        # task cannot take the KeyboardInterrupt at once).
        self.ki_seen = False
        self.ki_hard = False
        self.ki_seen_late = False
        self._stop = False
        # Instruments (see _instruments): None until the first is added. While
        # _loop_switch is set, _stop only asks the plain loop to hand over.
        self.instruments: InstrumentSet | None = None
        self._loop_switch = False
        # What _install changed in the thread and process, as undo callbacks.
        self._undo: list[Callable[[], object]] = []
        self.thread_cache: Any = None  # created on first to_thread use
        self.notifier.attach(self)

    def __repr__(self) -> str:
        return f"<pike Runner notifier={self.notifier.name}>"

    # -- scheduling primitives -----------------------------------------------------

    def reschedule(self, task: Task, value: Any = None) -> None:
        if task._abort_fn is None:
            raise RuntimeError(f"{task!r} is not parked; it cannot be rescheduled")
        task._abort_fn = None
        task._next_value = value
        self.runq.append(task)

    def reschedule_error(self, task: Task, exc: BaseException) -> None:
        if task._abort_fn is None:
            raise RuntimeError(f"{task!r} is not parked; it cannot be rescheduled")
        task._abort_fn = None
        task._next_exc = exc
        self.runq.append(task)

    def deliver_cancel(self, task: Task) -> None:
        """Ask a parked task's abort function to let it take its Cancelled."""
        abort = task._abort_fn
        if abort is None or abort is ABORT_DECLINED:
            return
        if not task._cancel_scope._effective:
            return  # a shielded scope inside protects it
        task._abort_fn = ABORT_DECLINED
        try:
            result = abort(_raise_cancelled)
        except BaseException as exc:
            raise PikeInternalError(f"the abort function of {task!r} raised") from exc
        if result is Abort.SUCCEEDED:
            self.reschedule_error(task, task._new_cancelled())
        elif result is not Abort.FAILED:
            raise PikeInternalError(f"abort function returned {result!r}, not an Abort")

    # -- spawning ------------------------------------------------------------------

    def spawn(
        self,
        async_fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        nursery: Nursery | None,
        name: object,
        context: contextvars.Context | None = None,
    ) -> Task:
        if type(async_fn) is _FunctionType:
            # The common case, checked inline: a plain function cannot be a
            # coroutine object and is callable.
            coro = async_fn(*args)
            if type(coro) is not _CoroutineType:
                coro = check_coroutine(async_fn, coro)
        else:
            coro = coroutine_or_error(async_fn, args)
        if context is None:
            context = contextvars.copy_context()
        scope = CancelScope() if nursery is None else nursery.cancel_scope
        task = Task(coro, async_fn if name is None else name, context, nursery, scope)
        if nursery is not None:
            nursery._children.add(task)
        if scope._tasks is None:
            scope._tasks = {task}
        else:
            scope._tasks.add(task)
        self.runq.append(task)
        return task

    def spawn_system(
        self, async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], name: object = None,
        context: contextvars.Context | None = None,
    ) -> Task:
        if self.system_nursery is None or self.system_nursery._closed:
            # RunFinishedError (a RuntimeError) is what from_thread.run promises
            # a thread that races the end of the run.
            raise RunFinishedError("the run is shutting down; no new system tasks")
        if context is None:
            context = self.system_context.copy()
        return self.spawn(async_fn, args, self.system_nursery, name, context)

    def spawn_guest(
        self,
        async_fn: Callable[..., Awaitable[Any]],
        name: object,
        context: contextvars.Context,
        host: Task | None,
    ) -> Task:
        """A system task that, given a host task, lives under the host's cancel scopes.

        ``from_thread.run`` uses it: the work it posts belongs, for cancellation,
        to the task that is waiting for the thread. The task's root scope hangs
        below the host's innermost scope and is detached when the task exits.
        """
        task = self.spawn_system(async_fn, (), name, context)
        if host is not None:
            nursery_scope = task._root_scope
            assert nursery_scope._tasks is not None
            nursery_scope._tasks.discard(task)
            scope = CancelScope()
            scope._attach(host._cancel_scope)
            scope._tasks = {task}
            scope._effective = host._cancel_scope._effective
            task._root_scope = task._cancel_scope = scope
        return task

    def _task_exited(self, task: Task, value: Any, exc: BaseException | None) -> None:
        task._exited = True
        hooks = task._exit_hooks
        if hooks is not None:
            task._exit_hooks = None
            for hook in hooks.values():
                hook(task)
        scope = task._cancel_scope
        if scope is not task._root_scope:
            # The task returned from inside a cancel scope it never exited (an
            # abandoned generator-based context manager, say). Unwind the tree.
            while scope is not task._root_scope and scope._parent is not None:
                scope._abandon()
                scope = scope._parent
            task._cancel_scope = scope
            error = RuntimeError(f"{task!r} exited without leaving all its cancel scopes")
            error.__context__ = exc
            exc = error
        if scope._tasks is not None:
            scope._tasks.discard(task)
        nursery = task._parent_nursery
        parent = scope._parent
        if (
            nursery is not None
            and scope is not nursery.cancel_scope
            and parent is not None
            and parent._children is not None
        ):
            # A guest's private root scope (see spawn_guest).
            parent._children.discard(scope)
        if task is self.main_task:
            self.main_outcome = (value, exc)
            exc = None
        elif task is self.init_task:
            if exc is not None:
                self.system_errors.append(exc)
            self._stop = True
            return
        elif nursery is not None and nursery is self.system_nursery and exc is not None:
            if not isinstance(exc, Cancelled):
                self.system_errors.append(exc)
                nursery.cancel_scope.cancel()
            exc = None
        if nursery is not None:
            nursery._child_finished(task, exc)

    # -- the loop ------------------------------------------------------------------

    def _plan_idle_wait(self) -> tuple[float, int]:
        """Nothing is runnable: how long the notifier may block, and what ends that wait.

        Returns the timeout and the idle mode the loop acts on if the wait
        brings no event. Shared by the plain loop and the stepwise one; it runs
        only when the loop is about to go idle, never per task switch.
        """
        deadline = self.timers.next_deadline()
        timeout = _INF if deadline == _INF else self.clock.deadline_to_sleep_time(deadline)
        idle = _NOT_IDLE
        # Idle waiters wake without moving the clock, so they go first.
        if self.idle_waiters:
            if self.idle_waiters[0][0] < timeout:
                timeout = self.idle_waiters[0][0]
                idle = _WAKE_IDLE_WAITERS
        elif self.autojump_threshold < timeout and deadline != _INF:
            timeout = self.autojump_threshold
            idle = _AUTOJUMP
        if self.ki_pending:
            # The main task may just have parked where it can take it.
            self._deliver_ki()
            if self.runq:
                return 0.0, _NOT_IDLE
        return timeout, idle

    def _run_until(self, until: Callable[[], bool] | None) -> None:
        runq = self.runq
        entries = self.entries
        timers = self.timers
        clock = self.clock
        notifier_wait = self.notifier.wait
        local = _state.local
        task_exited = self._task_exited
        last_poll = 0.0
        last_handoff = _monotonic()
        handoff_every = sys.getswitchinterval()
        # Whether a finished batch may go straight on to the next (see below).
        chain_batches = until is None and not self.debug
        system_clock = type(clock) is SystemClock
        while not self._stop:
            if until is not None and until():
                return
            idle = _NOT_IDLE
            if runq or entries or self.idempotent_entries:
                # Tasks are ready: peek at I/O without blocking, but not on every
                # batch (a syscall each time would dominate task switching);
                # ready fds wait at most _POLL_INTERVAL while the CPU is busy.
                now = _monotonic()
                if now - last_poll >= _POLL_INTERVAL:
                    if now - last_handoff >= handoff_every and _active_threads() > 1:
                        _sleep(_HANDOFF_SECONDS)
                        now = _monotonic()
                        last_handoff = now
                    last_poll = now
                    events = notifier_wait(0.0)
                else:
                    events = 0
            else:
                timeout, idle = self._plan_idle_wait()
                self.polling = True
                events = self._debug_idle_wait(timeout) if self.debug else notifier_wait(timeout)
                self.polling = False
                last_poll = last_handoff = _monotonic()
            if timers.heap:
                for scope in timers.pop_expired(clock.current_time()):
                    scope.cancel("deadline exceeded")
            if entries or self.idempotent_entries:
                self._run_entries()
            if self.ki_pending:
                self._deliver_ki()
            if idle != _NOT_IDLE and not events and not runq:
                if idle == _WAKE_IDLE_WAITERS:
                    self._wake_idle_waiters()
                else:
                    jump = self._autojump
                    if jump is not None:
                        jump(timers.next_deadline())
            if self.debug and runq:
                self._debug_batch_started(runq)
            # The steps in this batch, and run since the clock was last read.
            batch = unclocked = len(runq)
            while True:
                # A countdown rather than ``for _ in range(batch)``: most batches
                # hold one or two tasks, and a range iterator per batch costs
                # more than the loop body saves (callgrind: -10% per checkpoint).
                while batch:
                    batch -= 1
                    task = runq.popleft()
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
                        continue
                    except BaseException as error:
                        local.task = None
                        task_exited(task, None, error)
                        del error
                        continue
                    if yielded is CHECKPOINT:
                        task._next_exc = CHECK_CANCEL
                        runq.append(task)
                    elif yielded is SHIELDED_CHECKPOINT:
                        runq.append(task)
                    elif callable(yielded):
                        task._abort_fn = yielded
                        if task._cancel_scope._effective:
                            self.deliver_cancel(task)
                    else:
                        task._next_exc = TypeError(
                            f"pike tasks cannot await {yielded!r}: it belongs to another "
                            "async library (use pike's or anyio's API instead)"
                        )
                        runq.append(task)
                # Between two batches the loop polls I/O, fires deadlines, runs
                # callbacks from other threads and delivers Ctrl-C. When none of
                # that can be due, go straight on with the next batch: the task
                # order is the same (the run queue is FIFO), and a ping-pong of
                # one or two tasks does not pay a whole loop turn per switch. A
                # pending deadline is checked at every batch, as before (a
                # checkpoint after it passed must raise); with none, the clock is
                # read once per _CHAIN_STEPS steps, so I/O waits at most that many
                # extra steps beyond _POLL_INTERVAL.
                if not (chain_batches and runq) or self._stop:
                    break
                if entries or self.idempotent_entries or self.ki_pending:
                    break
                heap = timers.heap
                if heap or unclocked >= _CHAIN_STEPS:
                    # Deadlines are in the clock's time; only the system clock's
                    # is the one read here.
                    if heap and not system_clock:
                        break
                    now = _monotonic()
                    if now - last_poll >= _POLL_INTERVAL:
                        break
                    if heap and heap[0][0] <= now:
                        break
                    unclocked = 0
                batch = len(runq)
                unclocked += batch
            local.task = None
            if self.debug and self._debug_batch:
                self._debug_batch_ended()

    # -- debug mode: report tasks that hog the loop ------------------------------

    _debug_batch: list[str] | None = None
    _debug_batch_start = 0.0

    def _debug_batch_started(self, runq: collections.deque[Task]) -> None:
        self._debug_batch = [task.name for task in runq]
        self._debug_batch_start = _perf_counter()

    def _debug_batch_ended(self) -> None:
        elapsed = _perf_counter() - self._debug_batch_start
        names, self._debug_batch = self._debug_batch, None
        if elapsed >= SLOW_BATCH_SECONDS and names:
            warnings.warn(
                f"pike: {len(names)} task step(s) kept the run loop busy for {elapsed:.3f} s "
                f"without yielding (tasks: {', '.join(names[:5])}"
                f"{', ...' if len(names) > 5 else ''})",
                RuntimeWarning,
                stacklevel=1,
            )

    stuck_report_seconds = STUCK_REPORT_SECONDS

    def _debug_idle_wait(self, timeout: float) -> int:
        """The notifier wait, cut in two so a long quiet spell can be reported.

        If the first ``stuck_report_seconds`` pass with no event, no callback
        and no signal, the run is idle with tasks parked (a deadlock, or a
        wait that is not coming): print the task tree, then go on waiting.
        """
        patience = self.stuck_report_seconds
        if timeout <= patience:
            return self.notifier.wait(timeout)
        start = _perf_counter()
        events = self.notifier.wait(patience)
        waited = _perf_counter() - start
        if events or self.entries or self.idempotent_entries or self.ki_pending:
            return events
        if waited < patience * 0.9:
            return 0  # woken early (another thread): let the loop look around
        from .._task_tree import report_stuck

        report_stuck(self, patience)
        return self.notifier.wait(timeout - waited)

    def _run_entries(self) -> None:
        entries = self.entries
        for _ in range(len(entries)):
            fn, args = entries.popleft()
            self._call_entry(fn, args)
        idempotent = self.idempotent_entries
        if idempotent:
            # Snapshot and delete key by key (no dict swap): another thread's
            # insert can land at any moment and must be kept for next time.
            for key in list(idempotent):
                del idempotent[key]
                self._call_entry(*key)

    def _call_entry(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except BaseException as exc:
            self.system_errors.append(exc)
            if self.init_task is not None:
                self.init_task._root_scope.cancel()

    def _wake_idle_waiters(self) -> None:
        waiters = self.idle_waiters
        cushion = waiters[0][0]
        while waiters and waiters[0][0] == cushion:
            _, _, task = waiters.pop(0)
            self.reschedule(task, None)

    def _deliver_ki(self) -> None:
        """Hand the pending KeyboardInterrupt to the main task, or keep it pending.

        Called once per loop iteration while ``ki_pending``. The main task takes
        it at its current park if the park can be aborted, else at its next
        plain checkpoint, else (parked waiting for its nursery's children) as an
        error of that nursery, which cancels the children. A shielded scope
        defers the first Ctrl-C; after a second one, shields no longer count,
        and if the main task still cannot take it the run is abandoned.
        """
        main = self.main_task
        if main is None:
            return  # not spawned yet: the next iteration will have it
        if self.main_outcome is not None:
            self.ki_pending = False
            self.ki_seen_late = True  # nobody took it: outcome() raises it
            return
        if self._ki_into(main, self.ki_hard):
            self.ki_pending = False
            self.ki_delivered = True
        elif self.ki_hard:
            self.ki_pending = False
            raise KeyboardInterrupt

    def _ki_into(self, task: Task, hard: bool) -> bool:
        if not hard:
            scope: CancelScope | None = task._cancel_scope
            while scope is not None:
                if scope._shield:
                    return False
                scope = scope._parent
        abort = task._abort_fn
        if abort is None:
            if task._next_exc is CHECK_CANCEL:
                task._next_exc = KeyboardInterrupt()
                return True
            return False
        if abort is not ABORT_DECLINED:
            task._abort_fn = ABORT_DECLINED
            try:
                result = abort(raise_keyboard_interrupt)
            except BaseException as exc:
                raise PikeInternalError(f"the abort function of {task!r} raised") from exc
            if result is Abort.SUCCEEDED:
                self.reschedule_error(task, KeyboardInterrupt())
                return True
        if not hard:
            for nursery in reversed(task._child_nurseries):
                if nursery._parent_waiting_in_aexit:
                    nursery._add_exc(KeyboardInterrupt())
                    return True
        return False

    # -- run lifetime ----------------------------------------------------------------

    async def _init(self, async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        async with open_nursery() as system_nursery:
            self.system_nursery = system_nursery
            async with open_nursery() as main_nursery:
                try:
                    self.main_task = self.spawn(async_fn, args, main_nursery, None)
                except BaseException as exc:
                    self.main_outcome = (None, exc)
                    return
            system_nursery.cancel_scope.cancel()
        # Only now: a system task may still be iterating a generator.
        await self.asyncgens.finalize_remaining()

    def begin(self, async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        """Create the root task; nothing runs until the loop is driven."""
        self.init_task = self.spawn(self._init, (async_fn, args), None, "<init>",
                                    self.system_context.copy())
        self.clock.start_clock()

    def drive(self, until: Callable[[], bool] | None = None) -> bool:
        """Run the loop until ``until()`` is true or the run ends; True if it ended."""
        if _state.local.runner is not None:
            raise RuntimeError("pike.run() cannot be called from inside a running pike.run()")
        self._install()
        try:
            if not self.instruments:
                self._run_until(until)
            if self._loop_switch or self.instruments:
                from ._stepwise import drive_variants

                drive_variants(self, until)
            if self._stop:
                self._close_entries()
        finally:
            self._uninstall()
        return self._stop

    def _close_entries(self) -> None:
        """Refuse new callbacks, then run the ones already accepted.

        ``run_sync_soon`` promises that a call which did not raise
        RunFinishedError runs; the last loop iteration may have left some.
        """
        with self.entry_lock:
            self.closed = True
        while self.entries or self.idempotent_entries:
            self._run_entries()

    def _install(self) -> None:
        """Make this run the thread's current one, step by step.

        Each step that changes process or thread state pushes its own undo;
        if a later step fails (EMFILE creating the signal wake-up pipe, say),
        the steps already taken are undone before the error propagates, so a
        failed start leaves the thread exactly as it found it.
        """
        undo = self._undo
        try:
            if self.debug:
                depth = sys.get_coroutine_origin_tracking_depth()
                sys.set_coroutine_origin_tracking_depth(max(depth, 16))
                undo.append(lambda: sys.set_coroutine_origin_tracking_depth(depth))
            _state.local.runner = self
            undo.append(_forget_current_run)
            previous_library = sniffio.thread_local.name
            sniffio.thread_local.name = "pike"
            undo.append(lambda: setattr(sniffio.thread_local, "name", previous_library))
            self.asyncgens.install()
            undo.append(self.asyncgens.uninstall)
            if threading.current_thread() is threading.main_thread():
                self._install_signal_handling()
        except BaseException:
            self._uninstall()
            raise

    def _install_signal_handling(self) -> None:
        fd = self.notifier.signal_wakeup_fd()
        if fd >= 0:
            previous = signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
            if previous != -1:
                # Someone else's (an outer event loop's): theirs stays.
                signal.set_wakeup_fd(previous)
            else:
                self._undo.append(lambda: signal.set_wakeup_fd(-1))
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
            self._undo.append(lambda: signal.signal(signal.SIGINT, previous_handler))

    def _uninstall(self) -> None:
        """Undo what ``_install`` did, newest step first."""
        undo = self._undo
        while undo:
            undo.pop()()

    def _on_sigint(self, signum: int, frame: types.FrameType | None) -> None:
        # Runs between bytecodes of whatever the main thread was doing. The
        # first Ctrl-C is only flagged (the loop hands it to the main task); a
        # later one raises right here unless the interrupted code is protected.
        if self.ki_seen and not frame_is_protected(frame):
            self.ki_pending = False
            self.ki_delivered = True
            raise KeyboardInterrupt
        if self.ki_seen:
            self.ki_hard = True
        self.ki_seen = True
        self.ki_pending = True
        self.notifier.wake()

    def close(self) -> None:
        """Release the run's threads and OS resources (idempotent)."""
        if self._released:
            return
        self._released = True
        with self.entry_lock:
            self.closed = True
        if self.thread_cache is not None:
            self.thread_cache.shutdown()
        self.notifier.close()
        init = self.init_task
        if init is not None and inspect.getcoroutinestate(init.coro) == inspect.CORO_CREATED:
            # The run failed to start (EMFILE in _install, say): its root coroutine
            # never ran, so close it rather than leave a "never awaited" warning.
            init.coro.close()

    def outcome(self) -> Any:
        """Return (or raise) what ``run`` should: the main task's outcome."""
        if self.ki_pending or self.ki_seen_late:
            raise KeyboardInterrupt
        if self.ki_delivered:
            _raise_ki_outcome(self.main_outcome)
        if self.system_errors:
            raise PikeInternalError("a system task or callback crashed") from (
                self.system_errors[0]
                if len(self.system_errors) == 1
                else BaseExceptionGroup("system task errors", self.system_errors)
            )
        if self.main_outcome is None:
            raise PikeInternalError("the run ended before its main task did")
        value, exc = self.main_outcome
        if exc is not None:
            try:
                raise exc
            finally:
                del exc
        return value




register_loop_code(Runner._run_until.__code__)


def _ki_leaves(exc: BaseException) -> list[BaseException] | None:
    """The KeyboardInterrupts ``exc`` is made of, or None if it holds anything else.

    Cancelled leaves are allowed: they are the siblings the interrupt cancelled.
    """
    if isinstance(exc, KeyboardInterrupt):
        return [exc]
    if isinstance(exc, Cancelled):
        return []
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            leaves = _ki_leaves(inner)
            if leaves is None:
                return None
            found.extend(leaves)
        return found
    return None


def _raise_ki_outcome(main_outcome: tuple[Any, BaseException | None] | None) -> None:
    """After Ctrl-C: re-raise the KeyboardInterrupt, unless the main task handled it.

    A main task that caught the interrupt and returned (a drained server) ends
    the run normally; one that raised something else raises that. An interrupt
    that reached the main task only wrapped in nursery groups is raised bare, so
    ``except KeyboardInterrupt`` around ``run`` and Python's exit status work.
    """
    if main_outcome is None:
        raise KeyboardInterrupt
    exc = main_outcome[1]
    if exc is None:
        return
    leaves = _ki_leaves(exc)
    if leaves is None:
        return
    if not leaves:
        raise KeyboardInterrupt
    first = leaves[0]
    try:
        raise first
    finally:
        del first, leaves, exc
