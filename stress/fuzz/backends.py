"""The abstract API the interpreter is written against, bound to pike or to trio.

pike's API is trio-shaped, so a binding is a table of the same names taken from one
module or the other; nothing here adapts behaviour. ``Backend.run`` runs a program
under that library's MockClock with autojump at 0 (time jumps to the next deadline
as soon as every task is blocked).

trio randomises scheduling: each batch of runnable tasks runs in FIFO or reversed
order (default mode), or shuffled (the mode trio switches to when hypothesis is
imported, which makes every permutation possible). ``trio_backend(schedule)`` picks
one schedule, made deterministic by a seed, so that a failing comparison replays.

Batch order is not the only freedom a kernel has: how many scheduler passes an
operation takes is not specified either (trio delivers a pending cancel at a
checkpoint one pass later than pike does, for example), and it decides how far one
task gets at a virtual instant before a sibling's failure cancels it. A schedule with
``jitter`` makes trio emulate that freedom: before an await the interpreter is about
to make anyway, it sometimes adds schedule points (``cancel_shielded_checkpoint``:
no cancel check, so no new cancellation point). That only delays a task relative to
the others; the code between two awaits stays as atomic as in any kernel.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import trio
import trio.lowlevel
import trio.testing

import pike
import pike.lowlevel
import pike.testing


@dataclass(frozen=True)
class Backend:
    name: str
    run: Callable[[Callable[[], Awaitable[Any]]], Any]
    open_nursery: Callable[[], Any]
    CancelScope: Callable[..., Any]
    fail_after: Callable[[float], Any]
    sleep: Callable[[float], Awaitable[None]]
    checkpoint: Callable[[], Awaitable[None]]
    checkpoint_if_cancelled: Callable[[], Awaitable[None]]
    current_effective_deadline: Callable[[], float]
    current_time: Callable[[], float]
    current_token: Callable[[], Any]
    Event: Callable[[], Any]
    Lock: Callable[[], Any]
    Semaphore: Callable[[int], Any]
    CapacityLimiter: Callable[[int], Any]
    Condition: Callable[[], Any]
    open_memory_channel: Callable[[int], Any]
    Cancelled: type[BaseException]
    TooSlowError: type[BaseException]
    # Called before each await the interpreter makes; see the module doc.
    jitter: Callable[[], Awaitable[None]] | None = None


def _run_pike(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=pike.testing.MockClock(autojump_threshold=0))


PIKE = Backend(
    name="pike",
    run=_run_pike,
    open_nursery=pike.open_nursery,
    CancelScope=pike.CancelScope,
    fail_after=pike.fail_after,
    sleep=pike.sleep,
    checkpoint=pike.lowlevel.checkpoint,
    checkpoint_if_cancelled=pike.lowlevel.checkpoint_if_cancelled,
    current_effective_deadline=pike.current_effective_deadline,
    current_time=pike.current_time,
    current_token=pike.lowlevel.current_token,
    Event=pike.Event,
    Lock=pike.Lock,
    Semaphore=pike.Semaphore,
    CapacityLimiter=pike.CapacityLimiter,
    Condition=pike.Condition,
    open_memory_channel=pike.open_memory_channel,
    Cancelled=pike.Cancelled,
    TooSlowError=pike.TooSlowError,
)


class _NeverReverse(random.Random):
    """trio's default mode with every coin flip saying "keep FIFO order"."""

    def random(self) -> float:
        return 0.75


@dataclass(frozen=True)
class TrioSchedule:
    """One trio schedule: ``fifo``, or ``shuffle``/``reverse`` driven by ``seed``;
    with ``jitter``, extra schedule points drawn from the same seed."""

    mode: str
    seed: int = 0
    jitter: bool = False

    def __str__(self) -> str:
        text = self.mode if self.mode == "fifo" else f"{self.mode}(seed={self.seed})"
        return text + (" with jitter" if self.jitter else "")


JITTER_PROBABILITY = 0.3


@contextmanager
def _trio_schedule(schedule: TrioSchedule) -> Iterator[None]:
    # trio reads these two module globals on every batch; set them for one run only.
    core: Any = trio._core._run
    saved = core._r, core._ALLOW_DETERMINISTIC_SCHEDULING
    if schedule.mode == "fifo":
        core._r, core._ALLOW_DETERMINISTIC_SCHEDULING = _NeverReverse(), False
    elif schedule.mode == "reverse":
        core._r, core._ALLOW_DETERMINISTIC_SCHEDULING = random.Random(schedule.seed), False
    elif schedule.mode == "shuffle":
        core._r, core._ALLOW_DETERMINISTIC_SCHEDULING = random.Random(schedule.seed), True
    else:
        raise ValueError(f"unknown trio schedule {schedule.mode!r}")
    try:
        yield
    finally:
        core._r, core._ALLOW_DETERMINISTIC_SCHEDULING = saved


def trio_backend(schedule: TrioSchedule) -> Backend:
    rng = random.Random()

    def run(async_fn: Callable[[], Awaitable[Any]]) -> Any:
        rng.seed(schedule.seed + 1_000_003)
        with _trio_schedule(schedule):
            return trio.run(async_fn, clock=trio.testing.MockClock(autojump_threshold=0))

    async def jitter() -> None:
        if rng.random() < JITTER_PROBABILITY:
            for _ in range(rng.randint(1, 2)):
                await trio.lowlevel.cancel_shielded_checkpoint()

    return Backend(
        name=f"trio[{schedule}]",
        run=run,
        open_nursery=trio.open_nursery,
        CancelScope=trio.CancelScope,
        fail_after=trio.fail_after,
        sleep=trio.sleep,
        checkpoint=trio.lowlevel.checkpoint,
        checkpoint_if_cancelled=trio.lowlevel.checkpoint_if_cancelled,
        current_effective_deadline=trio.current_effective_deadline,
        current_time=trio.current_time,
        current_token=trio.lowlevel.current_trio_token,
        Event=trio.Event,
        Lock=trio.Lock,
        Semaphore=trio.Semaphore,
        CapacityLimiter=trio.CapacityLimiter,
        Condition=trio.Condition,
        open_memory_channel=trio.open_memory_channel,
        Cancelled=trio.Cancelled,
        TooSlowError=trio.TooSlowError,
        jitter=jitter if schedule.jitter else None,
    )


def trio_schedules(first: int, count: int) -> list[TrioSchedule]:
    """Schedules number ``first`` .. ``first+count-1`` of a fixed, mixed sequence.

    Number 0 is FIFO (closest to pike's own order, so an equivalent program usually
    matches at once); after it shuffles and reverse-or-not flips alternate, with
    jitter from number ``JITTER_FROM`` on.
    """
    out: list[TrioSchedule] = []
    for i in range(first, first + count):
        if i == 0:
            out.append(TrioSchedule("fifo"))
        else:
            out.append(TrioSchedule("shuffle" if i % 2 else "reverse", i, i >= JITTER_FROM))
    return out


JITTER_FROM = 3
