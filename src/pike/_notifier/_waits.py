"""Parking a task in a handle's reader/writer slot; shared by the reactors.

Generator-based, like the kernel's traps, so a socket operation that has to
wait is one frame away from the kernel.
"""

from __future__ import annotations

import types
from collections.abc import Generator
from typing import Any

from .._handle import Handle
from .._kernel import _state
from .._kernel._exceptions import BusyResourceError


@types.coroutine
def park_reader(handle: Handle) -> Generator[Any, Any, None]:
    if handle.reader is not None:
        raise BusyResourceError("another task is already waiting to read from this fd")
    handle.reader = _state.local.task
    yield handle.abort_read


@types.coroutine
def park_writer(handle: Handle) -> Generator[Any, Any, None]:
    if handle.writer is not None:
        raise BusyResourceError("another task is already waiting to write to this fd")
    handle.writer = _state.local.task
    yield handle.abort_write
