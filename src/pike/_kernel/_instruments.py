"""Instruments: user objects the scheduler calls at interesting moments.

Zero cost when none is installed: the plain loop, ``Runner.spawn`` and
``Runner.reschedule`` know nothing about instruments. Installing the first one
shadows ``spawn``/``reschedule`` with hooked versions (instance attributes,
so the class's fast methods stay untouched) and moves the run onto the
stepwise loop (``_stepwise``), which calls the step and I/O-wait hooks.
Removing the last one undoes both.

Only hooks a subclass overrides are called: each hook keeps its own list of
instruments, so an instrument that only counts I/O waits costs nothing per step.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import _state

if TYPE_CHECKING:
    import contextvars

    from ._nursery import Nursery
    from ._runner import Runner
    from ._task import Task

_log = logging.getLogger("pike.abc.Instrument")


class Instrument:
    """Base class for scheduler instruments; override the hooks you need.

    Hooks run synchronously inside the scheduler, so they must be quick and
    must not call pike's async API. A hook that raises is logged (logger
    ``pike.abc.Instrument``) and its instrument removed from the run.
    """

    __slots__ = ()

    def before_run(self) -> None:
        """The run is starting (only for instruments passed to ``run``)."""

    def after_run(self) -> None:
        """The run is over: every task has exited."""

    def task_spawned(self, task: Task) -> None:
        """``task`` was created (it is also scheduled, see ``task_scheduled``)."""

    def task_scheduled(self, task: Task) -> None:
        """``task`` became runnable."""

    def before_task_step(self, task: Task) -> None:
        """``task`` is about to run until its next yield."""

    def after_task_step(self, task: Task) -> None:
        """``task`` yielded (or exited; ``task_exited`` follows then)."""

    def task_exited(self, task: Task) -> None:
        """``task`` finished, by returning or raising."""

    def before_io_wait(self, timeout: float) -> None:
        """The loop is about to wait for I/O for up to ``timeout`` seconds."""

    def after_io_wait(self, timeout: float) -> None:
        """The I/O wait that began with ``before_io_wait(timeout)`` ended."""


HOOKS = tuple(name for name in vars(Instrument) if not name.startswith("_"))


def _overrides(instrument: Instrument, hook: str) -> bool:
    base = getattr(Instrument, hook)
    own = getattr(type(instrument), hook, base)
    if own is not base:
        return True
    instance_dict = getattr(instrument, "__dict__", None)
    return instance_dict is not None and hook in instance_dict


class InstrumentSet:
    """The instruments of one run, indexed by the hooks each overrides."""

    __slots__ = ("_by_hook", "_members")

    def __init__(self) -> None:
        # Insertion-ordered dicts as ordered sets: hooks run in install order.
        self._members: dict[Instrument, None] = {}
        self._by_hook: dict[str, dict[Instrument, None]] = {hook: {} for hook in HOOKS}

    def __bool__(self) -> bool:
        return bool(self._members)

    def __contains__(self, instrument: object) -> bool:
        return instrument in self._members

    def add(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise TypeError(f"expected a pike.abc.Instrument, got {instrument!r}")
        if instrument in self._members:
            return  # trio's contract: adding an installed instrument does nothing
        self._members[instrument] = None
        for hook in HOOKS:
            if _overrides(instrument, hook):
                self._by_hook[hook][instrument] = None

    def remove(self, instrument: Instrument) -> None:
        del self._members[instrument]  # KeyError if not installed, as documented
        for users in self._by_hook.values():
            users.pop(instrument, None)

    def wants(self, hook: str) -> bool:
        return bool(self._by_hook[hook])

    def call(self, hook: str, *args: Any) -> None:
        users = self._by_hook[hook]
        if not users:
            return
        for instrument in list(users):
            try:
                getattr(instrument, hook)(*args)
            except BaseException:
                # Like trio: a broken instrument must not break the run.
                _log.exception("pike instrument %r raised in %s; removing it", instrument, hook)
                if instrument in self._members:
                    self.remove(instrument)


# -- the hooked kernel methods -------------------------------------------------------


def _hooked_spawn(
    runner: Runner,
    async_fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    nursery: Nursery | None,
    name: object,
    context: contextvars.Context | None = None,
) -> Task:
    from ._runner import Runner

    task = Runner.spawn(runner, async_fn, args, nursery, name, context)
    instruments = runner.instruments
    if instruments:
        instruments.call("task_spawned", task)
        instruments.call("task_scheduled", task)
    return task


def _hooked_reschedule(runner: Runner, task: Task, value: Any = None) -> None:
    from ._runner import Runner

    Runner.reschedule(runner, task, value)
    if runner.instruments:
        runner.instruments.call("task_scheduled", task)


def _hooked_reschedule_error(runner: Runner, task: Task, exc: BaseException) -> None:
    from ._runner import Runner

    Runner.reschedule_error(runner, task, exc)
    if runner.instruments:
        runner.instruments.call("task_scheduled", task)


_HOOKED: dict[str, Callable[..., Any]] = {
    "spawn": _hooked_spawn,
    "reschedule": _hooked_reschedule,
    "reschedule_error": _hooked_reschedule_error,
}


def shadow_methods(runner: Runner) -> None:
    for name, function in _HOOKED.items():
        setattr(runner, name, types.MethodType(function, runner))


def _unshadow_methods(runner: Runner) -> None:
    for name in _HOOKED:
        runner.__dict__.pop(name, None)


def attach(runner: Runner, instrument: Instrument) -> None:
    """Install ``instrument`` in ``runner`` (no-op if already there)."""
    instruments = runner.instruments
    if instruments is None:
        instruments = runner.instruments = InstrumentSet()
    was_empty = not instruments
    instruments.add(instrument)
    if was_empty:
        shadow_methods(runner)
        # The plain loop has no hooks: ask it to hand over to the stepwise
        # loop at the end of this batch (it only ever checks _stop).
        if not runner._stop:
            runner._loop_switch = True
            runner._stop = True


def detach(runner: Runner, instrument: Instrument) -> None:
    """Remove ``instrument``; KeyError if it is not installed."""
    instruments = runner.instruments
    if instruments is None:
        raise KeyError(instrument)
    instruments.remove(instrument)
    if not instruments:
        # The stepwise loop notices on its next iteration and hands back.
        _unshadow_methods(runner)


def install_at_start(runner: Runner, instruments: Iterable[Instrument]) -> None:
    """The ``instruments=`` argument of a run: install, then ``before_run``."""
    if isinstance(instruments, Instrument):
        raise TypeError("instruments must be an iterable of Instrument, not one Instrument")
    chosen = list(instruments)
    for instrument in chosen:
        if not isinstance(instrument, Instrument):
            raise TypeError(f"expected a pike.abc.Instrument, got {instrument!r}")
    for instrument in chosen:
        attach(runner, instrument)
    runner._loop_switch = False  # nothing is running yet: nothing to switch
    runner._stop = False
    if runner.instruments:
        runner.instruments.call("before_run")


def add_instrument(instrument: Instrument) -> None:
    """Start calling ``instrument``'s hooks in the current run.

    Adding an instrument that is already installed does nothing (trio's contract).
    """
    if not isinstance(instrument, Instrument):
        raise TypeError(f"expected a pike.abc.Instrument, got {instrument!r}")
    attach(_state.runner(), instrument)


def remove_instrument(instrument: Instrument) -> None:
    """Stop calling ``instrument``'s hooks; ``KeyError`` if it is not installed."""
    detach(_state.runner(), instrument)
