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

if TYPE_CHECKING:
    from ._runner import Runner


class AsyncGenTracker:
    __slots__ = ("_alive", "_prev_hooks", "_runner")

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._alive: weakref.WeakSet[AsyncGenerator[Any, Any]] = weakref.WeakSet()
        self._prev_hooks: Any = None

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
        self._runner.spawn_system(self._aclose, (agen,), f"close {agen!r}")

    @staticmethod
    async def _aclose(agen: AsyncGenerator[Any, Any]) -> None:
        try:
            await agen.aclose()
        except Exception as exc:
            # Like an exception in __del__: report it, never crash the run for it.
            print(f"Exception ignored while closing async generator {agen!r}:", file=sys.stderr)
            traceback.print_exception(exc)

    async def finalize_remaining(self) -> None:
        """Close every generator still alive; called as the run winds down."""
        while self._alive:
            batch = list(self._alive)
            self._alive.clear()
            for agen in batch:
                await self._aclose(agen)
