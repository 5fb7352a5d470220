"""Finalizing async generators that tasks left unfinished.

Python calls the *firstiter* hook when an async generator starts and the
*finalizer* hook when an unfinished one is garbage collected. Both hooks are
per-thread, so installing them for the run's thread catches exactly the
generators this run created. A collected generator is closed in a system task
(``aclose()`` may await); at the end of the run every generator still alive is
closed before ``run`` returns, so their ``finally`` blocks always run.
"""

from __future__ import annotations

import sys
import traceback
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from ._traps import cancel_shielded_checkpoint

if TYPE_CHECKING:
    from ._runner import Runner


class AsyncGenTracker:
    __slots__ = ("_alive", "_prev_hooks", "_runner", "_trailing")

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._alive: weakref.WeakSet[AsyncGenerator[Any, Any]] = weakref.WeakSet()
        self._prev_hooks: Any = None
        # Collected after the system nursery closed: closed by finalize_remaining.
        self._trailing: list[AsyncGenerator[Any, Any]] = []

    def install(self) -> None:
        self._prev_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._firstiter, finalizer=self._finalizer)

    def uninstall(self) -> None:
        if self._prev_hooks is not None:
            sys.set_asyncgen_hooks(*self._prev_hooks)
            self._prev_hooks = None

    def _firstiter(self, agen: AsyncGenerator[Any, Any]) -> None:
        self._alive.add(agen)

    def _finalizer(self, agen: AsyncGenerator[Any, Any]) -> None:
        # May run from the garbage collector at any point, even in another
        # thread's GC pass: hand the work to the run, never do it here.
        self._alive.discard(agen)
        runner = self._runner
        if runner.closed:
            return
        runner.token.run_sync_soon(self._spawn_closer, agen)

    def _spawn_closer(self, agen: AsyncGenerator[Any, Any]) -> None:
        runner = self._runner
        nursery = runner.system_nursery
        if nursery is not None and not nursery._closed:
            runner.spawn_system(self._aclose, (agen,), f"close {agen!r}")
        elif not runner._stop:
            self._trailing.append(agen)  # finalize_remaining is (about to be) at work
        else:
            self._close_now(agen)

    @staticmethod
    async def _aclose(agen: AsyncGenerator[Any, Any]) -> None:
        try:
            await agen.aclose()
        except Exception as exc:
            _report(agen, exc)

    @staticmethod
    def _close_now(agen: AsyncGenerator[Any, Any]) -> None:
        """Close without a run: fine unless the generator awaits while closing."""
        closer = agen.aclose()
        try:
            closer.send(None)
        except StopIteration:
            return
        except Exception as exc:
            _report(agen, exc)
            return
        closer.close()
        _report(agen, RuntimeError("it awaited while closing, after the run had ended"))

    async def finalize_remaining(self) -> None:
        """Close every generator still alive; called as the run winds down.

        Runs after the system tasks have finished, so nothing can still be
        iterating one of these generators.
        """
        while True:
            batch = [*self._alive, *self._trailing]
            self._alive.clear()
            self._trailing.clear()
            if not batch:
                # Finalizer callbacks may be queued already: let them run once.
                await cancel_shielded_checkpoint()
                if not self._alive and not self._trailing:
                    return
                continue
            for agen in batch:
                await self._aclose(agen)
            del batch


def _report(agen: AsyncGenerator[Any, Any], exc: BaseException) -> None:
    # Like an exception in __del__: report it, never crash the run for it.
    print(f"Exception ignored while closing async generator {agen!r}:", file=sys.stderr)
    traceback.print_exception(exc)
