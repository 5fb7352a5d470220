"""``wait_all_tasks_blocked``: wake when every other task has been blocked a while.

The run loop keeps the waiters sorted by cushion and wakes those with the
smallest one after a notifier wait of that length saw nothing happen.
"""

from __future__ import annotations

import bisect
import math

from . import _state
from ._traps import Abort, RaiseCancelT, wait_task_rescheduled


async def wait_all_tasks_blocked(cushion: float = 0.0) -> None:
    """Wait until every other task has been blocked for ``cushion`` seconds."""
    if math.isnan(cushion) or cushion < 0:
        raise ValueError("cushion must be a non-negative number")
    runner = _state.runner()
    task = _state.current_task()
    entry = (float(cushion), next(runner._idle_counter), task)
    bisect.insort(runner.idle_waiters, entry)

    def abort(raise_cancel: RaiseCancelT) -> Abort:
        runner.idle_waiters.remove(entry)
        return Abort.SUCCEEDED

    await wait_task_rescheduled(abort)
