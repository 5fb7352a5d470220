"""``to_thread.run_sync`` and the ``from_thread`` calls back into the run.

A blocking call runs in a cached worker thread; its outcome comes back through
``run_sync_soon`` (the notifier's cross-thread wake-up), which reschedules the
waiting task. Worker threads remember which run (and which task) sent them, so
``from_thread`` knows where to go without being told.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import outcome
import sniffio

from ._kernel import _state
from ._kernel._exceptions import Cancelled, RunFinishedError
from ._kernel._runvar import RunVar
from ._kernel._thread_cache import ThreadCache
from ._kernel._token import RunToken
from ._kernel._traps import Abort, RaiseCancelT, wait_task_rescheduled
from ._sync import CapacityLimiter

T = TypeVar("T")

DEFAULT_THREAD_LIMIT = 40
_limiter_var: RunVar[CapacityLimiter | None] = RunVar("pike default thread limiter", None)


def current_default_thread_limiter() -> CapacityLimiter:
    """The limiter ``to_thread.run_sync`` uses when it is given none.

    Unless a library chose one with :func:`set_default_thread_limiter`, each run
    gets its own ``CapacityLimiter(40)`` on first use.
    """
    limiter = _limiter_var.get()
    if limiter is None:
        limiter = CapacityLimiter(DEFAULT_THREAD_LIMIT)
        _limiter_var.set(limiter)
    return limiter


def set_default_thread_limiter(limiter: CapacityLimiter) -> None:
    """Make ``limiter`` the current run's default for ``to_thread.run_sync``.

    For libraries layered on pike that hand out their own limiter type (a
    subclass of ``pike.CapacityLimiter``) and need pike's default to be that
    very object, so resizing it resizes the real worker pool. Threads already
    running keep the token they hold in the previous default until they end.
    Must be called inside a run; the choice ends with the run.
    """
    if not isinstance(limiter, CapacityLimiter):
        raise TypeError(
            f"the default thread limiter must be a pike.CapacityLimiter, not {limiter!r}"
        )
    if _state.local.runner is None:
        raise RuntimeError("set_default_thread_limiter() must be called inside a pike run")
    _limiter_var.set(limiter)


class _WorkerContext:
    """What a worker thread knows about the run and the task that sent it."""

    __slots__ = ("abandon_on_cancel", "task", "token")

    def __init__(self, token: RunToken, task: Any, abandon_on_cancel: bool) -> None:
        self.token = token
        self.task = task
        self.abandon_on_cancel = abandon_on_cancel


async def to_thread_run_sync(
    sync_fn: Callable[..., T],
    *args: Any,
    thread_name: str | None = None,
    abandon_on_cancel: bool = False,
    limiter: Any = None,
) -> T:
    """Run ``sync_fn(*args)`` in a worker thread and wait for its result.

    Cancellation waits for the thread to finish, unless ``abandon_on_cancel``
    is true: then the task is cancelled at once and the thread's eventual
    result is discarded (it still holds its limiter token until it ends).
    """
    if not callable(sync_fn):
        raise TypeError(f"{sync_fn!r} is not callable")
    if limiter is None:
        limiter = current_default_thread_limiter()
    runner = _state.runner()
    task = _state.current_task()
    placeholder = object()
    await limiter.acquire_on_behalf_of(placeholder)
    if runner.thread_cache is None:
        runner.thread_cache = ThreadCache()
    context = contextvars.copy_context()
    # The worker thread runs no async library, whatever the caller's context says.
    context.run(sniffio.current_async_library_cvar.set, None)
    worker_context = _WorkerContext(runner.token, task, abandon_on_cancel)
    abandoned = False

    def in_thread() -> T:
        local = _state.local
        local.worker_token = worker_context
        if thread_name is not None:
            threading.current_thread().name = thread_name
        try:
            return context.run(sync_fn, *args)
        finally:
            local.worker_token = None

    def back_in_run(result: outcome.Outcome[T]) -> None:
        limiter.release_on_behalf_of(placeholder)
        if not abandoned:
            runner.reschedule(task, result)

    def deliver(result: outcome.Outcome[T]) -> None:
        try:
            runner.token.run_sync_soon(back_in_run, result)
        except RunFinishedError:
            pass  # an abandoned thread outlived the run; nobody wants its result

    try:
        runner.thread_cache.start(in_thread, deliver)
    except BaseException:
        limiter.release_on_behalf_of(placeholder)
        raise

    def abort(raise_cancel: RaiseCancelT) -> Abort:
        nonlocal abandoned
        if abandon_on_cancel:
            abandoned = True
            return Abort.SUCCEEDED
        return Abort.FAILED

    result: outcome.Outcome[T] = await wait_task_rescheduled(abort)
    # Unwrapped here, in a coroutine frame, so a StopIteration from the thread
    # becomes "coroutine raised StopIteration" as it would in plain async code.
    return result.unwrap()


def _worker_context(token: RunToken | None) -> tuple[RunToken, _WorkerContext | None]:
    if token is not None:
        # Another run's thread may call into this run; only its own would deadlock.
        if threading.get_ident() == token._runner.thread_id and not token._runner.closed:
            raise RuntimeError(
                "this function blocks, so it must not be called from the pike run's own "
                "thread; just await the function directly"
            )
        return token, None
    if _state.local.runner is not None:
        raise RuntimeError(
            "this function blocks, so it must not be called from the pike run's own thread; "
            "just await the function directly"
        )
    ctx = _state.local.worker_token
    if ctx is None:
        raise RuntimeError(
            "this thread was not started by pike.to_thread.run_sync; pass token= "
            "(from pike.lowlevel.current_token()) to reach the run"
        )
    return ctx.token, ctx


def _wait_in_thread(post: Callable[[Callable[[outcome.Outcome[T]], None]], None]) -> T:
    done = threading.Event()
    box: list[outcome.Outcome[T]] = []

    def put(result: outcome.Outcome[T]) -> None:
        box.append(result)
        done.set()

    post(put)
    done.wait()
    return box[0].unwrap()


def from_thread_run_sync(fn: Callable[..., T], *args: Any, token: RunToken | None = None) -> T:
    """From a worker thread: call ``fn(*args)`` in the run's thread, return its result."""
    run_token, _ = _worker_context(token)

    def post(put: Callable[[outcome.Outcome[T]], None]) -> None:
        run_token.run_sync_soon(lambda: put(outcome.capture(fn, *args)))

    return _wait_in_thread(post)


def from_thread_run(
    afn: Callable[..., Awaitable[T]], *args: Any, token: RunToken | None = None
) -> T:
    """From a worker thread: run ``await afn(*args)`` in the run, return its result.

    ``afn`` runs in a copy of this thread's context. Called from a thread that
    ``to_thread.run_sync`` started (without ``abandon_on_cancel``), it runs
    under the cancel scopes of the task waiting for that thread: cancelling
    that task cancels ``afn`` too.
    """
    run_token, worker = _worker_context(token)
    # An abandoned thread's work no longer belongs to the task that gave up on it.
    host_task = None if worker is None or worker.abandon_on_cancel else worker.task
    context = contextvars.copy_context()

    def post(put: Callable[[outcome.Outcome[T]], None]) -> None:
        async def runner_task() -> None:
            put(await outcome.acapture(afn, *args))

        def spawn() -> None:
            try:
                _state.runner().spawn_guest(
                    runner_task, getattr(afn, "__name__", None), context, host_task
                )
            except BaseException as exc:
                put(outcome.Error(exc))

        run_token.run_sync_soon(spawn)

    return _wait_in_thread(post)


def from_thread_check_cancelled() -> None:
    """From a worker thread: raise Cancelled if the task waiting on us is cancelled."""
    ctx = _state.local.worker_token
    if ctx is None:
        raise RuntimeError("this thread was not started by pike.to_thread.run_sync")
    if ctx.task is not None and ctx.task._cancel_scope._effective:
        raise Cancelled._create()
