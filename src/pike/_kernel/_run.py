"""The entry points: ``pike.run`` and ``SteppedRun`` (a run driven piece by piece)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .._notifier import Notifier, default_notifier, notifier_by_name
from . import _state
from ._clock import Clock
from ._instruments import Instrument, install_at_start
from ._runner import STUCK_REPORT_SECONDS, Runner
from ._spawn_checks import reject_coroutine_object


def _check_run_args(async_fn: object) -> None:
    reject_coroutine_object(async_fn)
    if _state.local.runner is not None:
        raise RuntimeError("pike.run() cannot be called from inside a running pike.run()")


def run(
    async_fn: Callable[..., Awaitable[Any]],
    *args: Any,
    clock: Clock | None = None,
    notifier: Notifier | str | None = None,
    debug: bool = False,
    stuck_report_seconds: float = STUCK_REPORT_SECONDS,
    instruments: Iterable[Instrument] = (),
) -> Any:
    """Run ``async_fn(*args)`` as the main task of a new run; return its result.

    ``notifier`` picks the OS facility ("epoll", "poll", or an instance);
    ``clock`` may be a ``pike.testing.MockClock``. ``debug=True`` records
    where coroutines were created (for "never awaited" warnings), warns when
    tasks keep the loop busy for 0.1 s or more without yielding, and prints
    the task tree to stderr when the loop has been idle (no runnable task, no
    I/O, no callback) for ``stuck_report_seconds``. ``instruments`` are
    installed before the run starts (see ``pike.abc.Instrument``).
    """
    _check_run_args(async_fn)
    runner = _new_runner(clock, notifier, debug, stuck_report_seconds)
    try:
        install_at_start(runner, instruments)
        runner.begin(async_fn, args)
        runner.drive()
    finally:
        runner.close()
    return runner.outcome()


def _new_runner(
    clock: Clock | None, notifier: Notifier | str | None, debug: bool, stuck_report_seconds: float
) -> Runner:
    if isinstance(stuck_report_seconds, bool) or not isinstance(stuck_report_seconds, int | float):
        raise TypeError("stuck_report_seconds must be a number of seconds")
    if not stuck_report_seconds > 0:
        raise ValueError("stuck_report_seconds must be positive")
    chosen = _make_notifier(notifier)
    try:
        runner = Runner(clock, chosen, debug)
    except BaseException:
        chosen.close()  # the run owns its notifier from the start, even a failed one
        raise
    runner.stuck_report_seconds = float(stuck_report_seconds)
    return runner


def _make_notifier(notifier: Notifier | str | None) -> Notifier:
    if notifier is None:
        return default_notifier()
    if isinstance(notifier, Notifier):
        return notifier
    return notifier_by_name(notifier)


class SteppedRun:
    """A run driven piece by piece from synchronous code (test runners).

    ``run_until(predicate)`` drives the loop until ``predicate()`` holds; the
    run's tasks stay alive between calls. ``finish()`` drives it to the end.
    """

    def __init__(
        self,
        async_fn: Callable[..., Awaitable[Any]],
        *args: Any,
        clock: Clock | None = None,
        notifier: Notifier | str | None = None,
        debug: bool = False,
        stuck_report_seconds: float = STUCK_REPORT_SECONDS,
        instruments: Iterable[Instrument] = (),
    ) -> None:
        _check_run_args(async_fn)
        self._runner = _new_runner(clock, notifier, debug, stuck_report_seconds)
        try:
            install_at_start(self._runner, instruments)
            self._runner.begin(async_fn, args)
        except BaseException:
            self._runner.close()
            raise
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._runner._stop

    def run_until(self, predicate: Callable[[], bool]) -> None:
        if self._finished:
            raise RuntimeError("the run has already finished")
        self._runner.drive(predicate)

    def finish(self) -> Any:
        if self._finished:
            raise RuntimeError("the run has already finished")
        self._finished = True
        try:
            self._runner.drive()
        finally:
            self._runner.close()
        return self._runner.outcome()
