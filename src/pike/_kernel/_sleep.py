"""Sleeping: a parked task inside a cancel scope whose deadline wakes it."""

from __future__ import annotations

import math

from . import _state
from ._cancel import CancelScope, _check_deadline
from ._traps import Abort, RaiseCancelT, checkpoint, wait_task_rescheduled


def _abort_ok(raise_cancel: RaiseCancelT) -> Abort:
    return Abort.SUCCEEDED


async def sleep_forever() -> None:
    """Park until cancelled."""
    await wait_task_rescheduled(_abort_ok)


async def sleep_until(deadline: float) -> None:
    """Sleep until the run's clock reads ``deadline``."""
    deadline = _check_deadline(deadline)
    with CancelScope(deadline=deadline):
        await sleep_forever()


async def sleep(seconds: float) -> None:
    """Sleep for ``seconds`` (0 is a plain checkpoint)."""
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"sleep() needs a number of seconds, not {type(seconds).__name__}")
    if math.isnan(seconds) or seconds < 0:
        raise ValueError("sleep() needs a non-negative number of seconds")
    if seconds == 0:
        await checkpoint()
        return
    await sleep_until(_state.runner().clock.current_time() + seconds)
