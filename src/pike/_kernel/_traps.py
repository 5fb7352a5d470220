"""The few ways a coroutine talks to the kernel.

A pike task suspends by yielding one of three things to the run loop:

* ``CHECKPOINT``: "reschedule me, unless I am cancelled" (a plain checkpoint);
* ``SHIELDED_CHECKPOINT``: "reschedule me whatever happens";
* an *abort function*: "park me until someone calls ``reschedule``; if I am
  cancelled meanwhile, ask this function whether the wait can be abandoned".

Everything else that blocks (sleep, fd readiness, Event, Lock, join, threads) is
built on the third. Sentinels and bare callables keep the yield allocation-free.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Generator
from typing import Any

import outcome

from . import _state
from ._exceptions import Cancelled


class Abort(enum.Enum):
    """What an abort function answers when the kernel wants to cancel a wait."""

    SUCCEEDED = 1  # the wait was undone; the kernel delivers Cancelled
    FAILED = 2  # the wait goes on; the waker will reschedule the task later


RaiseCancelT = Callable[[], None]
AbortFn = Callable[[RaiseCancelT], Abort]


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<pike {self.name}>"


CHECKPOINT = _Sentinel("checkpoint")
SHIELDED_CHECKPOINT = _Sentinel("shielded checkpoint")


# These are generator-based coroutines rather than ``async def`` wrappers around
# a yield: one frame less between the task and the kernel on every switch.


@types.coroutine
def checkpoint() -> Generator[object, Any, None]:
    """Yield to the scheduler; raise ``Cancelled`` if the task is cancelled."""
    yield CHECKPOINT


@types.coroutine
def cancel_shielded_checkpoint() -> Generator[object, Any, None]:
    """Yield to the scheduler without checking for cancellation."""
    yield SHIELDED_CHECKPOINT


@types.coroutine
def checkpoint_if_cancelled() -> Generator[object, Any, None]:
    """Raise ``Cancelled`` if the task is cancelled; otherwise do nothing.

    It does not yield when there is nothing to deliver, which is what lets an
    operation that succeeds at once pay for a single yield.
    """
    task = _state.local.task
    if task is not None and task._cancel_scope._effective:
        yield CHECKPOINT


@types.coroutine
def wait_task_rescheduled(abort_fn: AbortFn) -> Generator[object, Any, Any]:
    """Park the current task until ``reschedule`` is called for it.

    ``abort_fn(raise_cancel)`` is called (at most once) if the task is cancelled
    while parked. Returning ``Abort.SUCCEEDED`` means the caller has undone the
    wait and the task will get ``Cancelled``; returning ``Abort.FAILED`` means
    the wait continues and whoever wakes the task later decides what it gets
    (``raise_cancel`` raises the ``Cancelled`` to pass along, if wanted).
    """
    return (yield abort_fn)


def reschedule(task: Any, next_send: outcome.Outcome[Any] | None = None) -> None:
    """Wake a task parked in ``wait_task_rescheduled`` with an outcome."""
    runner = _state.runner()
    if next_send is None or isinstance(next_send, outcome.Value):
        runner.reschedule(task, None if next_send is None else next_send.value)
    else:
        assert isinstance(next_send, outcome.Error)
        runner.reschedule_error(task, next_send.error)


def _raise_cancelled() -> None:
    raise Cancelled._create()
