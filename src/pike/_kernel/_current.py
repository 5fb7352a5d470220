"""Questions about the current run, asked from inside it (``pike.lowlevel``)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from . import _state
from ._clock import Clock
from ._task import Task
from ._token import RunToken


def current_root_task() -> Task | None:
    return _state.runner().init_task


def current_token() -> RunToken:
    return _state.runner().token


def current_clock() -> Clock:
    return _state.runner().clock


def current_time() -> float:
    """The current time on the run's clock."""
    return _state.runner().clock.current_time()


def spawn_system_task(
    async_fn: Callable[..., Awaitable[Any]],
    *args: Any,
    name: object = None,
    context: contextvars.Context | None = None,
) -> Task:
    """Start a task that lives until the run ends; its errors crash the run."""
    return _state.runner().spawn_system(async_fn, args, name, context)
