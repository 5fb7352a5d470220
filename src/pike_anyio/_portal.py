"""Blocking portals for anyio 4.9-4.12, which ask the backend to make them.

From 4.13 anyio builds portals itself on ``run_sync_soon``; before that each
backend supplies a ``BlockingPortal`` subclass whose one job is to start a task
in the portal's task group when another thread asks. On pike that is a
``run_sync_soon`` through the run's token: the thread does not wait for the
task, only the future the portal hands back does. The task is started inside a
copy of the calling thread's context, so it sees that thread's context
variables, as on the other backends.
"""

from __future__ import annotations

from concurrent.futures import Future
from contextvars import copy_context
from typing import Any

from anyio.from_thread import BlockingPortal as _AnyioBlockingPortal

import pike
import pike.lowlevel


class BlockingPortal(_AnyioBlockingPortal):
    def __new__(cls) -> BlockingPortal:
        # anyio's __new__ would ask the backend again; this is the backend's answer.
        return object.__new__(cls)

    def __init__(self) -> None:
        super().__init__()
        self._pike_token = pike.lowlevel.current_token()

    def _spawn_task_from_thread(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: object,
        future: Future[Any],
    ) -> None:
        # This runs in the asking thread: its context is captured here, and the
        # task is started later, by the run itself, inside that context.
        context = copy_context()

        def start_in_run() -> None:
            self._task_group.start_soon(self._call_func, func, args, kwargs, future, name=name)

        try:
            self._pike_token.run_sync_soon(context.run, start_in_run)
        except pike.RunFinishedError:
            # anyio's own portals report a finished loop as "not running".
            raise RuntimeError("This portal is not running") from None
