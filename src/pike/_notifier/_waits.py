"""Parking a task in a handle's reader/writer slot; shared by all reactors."""

from __future__ import annotations

from .._handle import Handle
from .._kernel import _state
from .._kernel._exceptions import BusyResourceError
from .._kernel._traps import Abort, RaiseCancelT, wait_task_rescheduled


async def park_reader(handle: Handle) -> None:
    if handle.reader is not None:
        raise BusyResourceError("another task is already waiting to read from this fd")
    handle.reader = _state.local.task

    def abort(raise_cancel: RaiseCancelT) -> Abort:
        handle.reader = None
        return Abort.SUCCEEDED

    await wait_task_rescheduled(abort)


async def park_writer(handle: Handle) -> None:
    if handle.writer is not None:
        raise BusyResourceError("another task is already waiting to write to this fd")
    handle.writer = _state.local.task

    def abort(raise_cancel: RaiseCancelT) -> Abort:
        handle.writer = None
        return Abort.SUCCEEDED

    await wait_task_rescheduled(abort)
