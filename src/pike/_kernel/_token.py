"""RunToken: the one handle on a run that other threads may use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._exceptions import RunFinishedError

if TYPE_CHECKING:
    from ._runner import Runner


class RunToken:
    """Lets any thread schedule a callback in the run: ``run_sync_soon``."""

    __slots__ = ("__weakref__", "_runner")

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def run_sync_soon(
        self, sync_fn: Callable[..., object], *args: Any, idempotent: bool = False
    ) -> None:
        """Call ``sync_fn(*args)`` in the run's thread soon. Thread-safe.

        With ``idempotent=True`` a callback already queued with equal
        (fn, args) is not queued again. Raises ``RunFinishedError`` once the
        run is over. Exceptions from the callback crash the run.
        """
        runner = self._runner
        if threading.get_ident() == runner.thread_id:
            # The run's own thread (a task, a callback, a signal handler): it
            # cannot race with the run closing, and must not take the lock (a
            # signal handler may interrupt a holder of it).
            if runner.closed:
                raise RunFinishedError("the pike run this token belongs to has finished")
            self._post(runner, sync_fn, args, idempotent)
            if runner.polling:
                runner.notifier.wake()
            return
        with runner.entry_lock:
            # Under the lock, so the run cannot close (and close the wake-up
            # fd, whose number could then be reused) between check and wake.
            if runner.closed:
                raise RunFinishedError("the pike run this token belongs to has finished")
            self._post(runner, sync_fn, args, idempotent)
            runner.notifier.wake()

    @staticmethod
    def _post(
        runner: Runner, sync_fn: Callable[..., object], args: tuple[Any, ...], idempotent: bool
    ) -> None:
        if idempotent:
            runner.idempotent_entries[(sync_fn, args)] = None
        else:
            runner.entries.append((sync_fn, args))

    def __repr__(self) -> str:
        return f"<pike.lowlevel.RunToken for {self._runner!r}>"
