"""fd readiness waits, delegated to the current run's notifier."""

from __future__ import annotations

from typing import Any

from ._kernel import _state
from ._notifier import Reactor


def current_notifier() -> Reactor:
    """The run's notifier (a Reactor on every platform pike supports today)."""
    notifier = _state.runner().notifier
    if not isinstance(notifier, Reactor):
        raise RuntimeError(f"the {notifier.name} notifier does not offer readiness waits")
    return notifier


async def wait_readable(fd: Any) -> None:
    """Wait until ``fd`` (an int or an object with ``fileno()``) is readable."""
    await current_notifier().wait_readable(fd)


async def wait_writable(fd: Any) -> None:
    """Wait until ``fd`` is writable."""
    await current_notifier().wait_writable(fd)


def notify_closing(fd: Any) -> None:
    """Tell pike ``fd`` is about to be closed: its waiters get ClosedResourceError."""
    current_notifier().notify_closing(fd)
