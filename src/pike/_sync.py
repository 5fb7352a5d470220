"""Event, Lock, StrictFIFOLock, Semaphore, Condition and CapacityLimiter.

All of them park tasks in a ParkingLot, so all are fair: waiters are served in
arrival order. Locks and limiters hand ownership to the woken task directly in
``release()``, so a task that arrives later cannot barge in ahead of it.
Acquiring is a checkpoint whether or not it has to wait, as in trio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from ._kernel import _state
from ._kernel._cancel import CancelScope
from ._kernel._exceptions import WouldBlock
from ._kernel._parking import ParkingLot, leave_queue
from ._kernel._task import Task
from ._kernel._traps import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    wait_task_rescheduled,
)


@dataclass(frozen=True)
class EventStatistics:
    tasks_waiting: int


class Event:
    """A flag that tasks can wait for; once set it stays set.

    Events are created and set constantly (one per request, per message), so
    the waiters live in a plain dict created on first wait rather than in a
    ParkingLot: an unset-then-set Event with no waiter allocates nothing.
    """

    __slots__ = ("__weakref__", "_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: dict[Task, None] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        if not self._flag:
            self._flag = True
            waiters = self._waiters
            if waiters:
                self._waiters = None
                # _state.runner() inlined: set() is half of every event wake-up.
                runner = _state.local.runner
                if runner is None:
                    raise RuntimeError("must be called from inside pike.run()")
                reschedule = runner.reschedule
                for task in waiters:
                    reschedule(task, None)

    async def wait(self) -> None:
        if self._flag:
            await checkpoint()
            return
        task = _state.local.task
        if task is None:
            raise RuntimeError("Event.wait() must be called from a pike task")
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = {}
        waiters[task] = None
        # A partial rather than a closure: a closure makes its two cells on every
        # call of wait(), including those that find the event set.
        await wait_task_rescheduled(partial(leave_queue, waiters, task))

    def statistics(self) -> EventStatistics:
        return EventStatistics(len(self._waiters) if self._waiters else 0)

    def __repr__(self) -> str:
        return f"<pike.Event {'set' if self._flag else 'unset'}>"


class _AsyncCM:
    """``async with`` support for anything with acquire()/release()."""

    __slots__ = ()

    async def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@dataclass(frozen=True)
class LockStatistics:
    locked: bool
    owner: Task | None
    tasks_waiting: int


class Lock(_AsyncCM):
    """A mutex owned by the task that acquired it."""

    __slots__ = ("__weakref__", "_lot", "_owner")

    def __init__(self) -> None:
        self._owner: Task | None = None
        self._lot = ParkingLot()

    def locked(self) -> bool:
        return self._owner is not None

    def acquire_nowait(self) -> None:
        task = _state.current_task()
        if self._owner is task:
            raise RuntimeError("Attempted to acquire an already held Lock")
        if self._owner is None and not self._lot:
            self._owner = task
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        task = _state.local.task
        if task is None:
            raise RuntimeError("Lock.acquire() must be called from a pike task")
        if task._cancel_scope._effective:
            await checkpoint()  # raises Cancelled
        owner = self._owner
        # The lot's dict, not the lot: its __bool__ would be a Python call.
        if owner is None and not self._lot._parked:
            self._owner = task
            await cancel_shielded_checkpoint()
        elif owner is task:
            raise RuntimeError("Attempted to acquire an already held Lock")
        else:
            # Checked here first: the owner is usually watched already.
            if owner is not None and self not in (owner._exit_hooks or ()):
                self._watch_owner(owner)
            # release() makes us the owner before waking us.
            await self._lot.park()

    def _watch_owner(self, owner: Task) -> None:
        """Make sure the lock breaks if ``owner`` exits still holding it.

        Only called once some task must wait, so an uncontended acquire and
        release pay nothing for this.
        """
        if owner._exited:
            self._lot.break_lot(owner)
            return
        hooks = owner._exit_hooks
        if hooks is None:
            owner._exit_hooks = {self: self._owner_exited}
        elif self not in hooks:
            hooks[self] = self._owner_exited

    def _owner_exited(self, task: Task) -> None:
        if self._owner is task:
            self._lot.break_lot(task)

    # ``async with lock`` awaits acquire() itself: no extra coroutine frame.
    __aenter__ = acquire

    async def _reclaim(self) -> None:
        """Take the lock back for an interrupted Condition.wait; cannot be cancelled."""
        with CancelScope(shield=True):
            await self.acquire()

    def release(self) -> None:
        owner = self._owner
        # Outside any task both sides are None: an unlocked lock is owned by nobody.
        if owner is None or owner is not _state.local.task:
            raise RuntimeError("can't release a Lock you don't own")
        lot = self._lot
        if lot._parked:
            owner = self._owner = lot.unpark_one()
            if lot._parked and owner is not None:
                self._watch_owner(owner)  # the new owner is now the one awaited
        else:
            self._owner = None

    def statistics(self) -> LockStatistics:
        return LockStatistics(self._owner is not None, self._owner, len(self._lot))

    def __repr__(self) -> str:
        return f"<pike.{type(self).__name__} {'locked' if self._owner else 'unlocked'}>"


class StrictFIFOLock(Lock):
    """A Lock that promises strict FIFO hand-off (pike's Lock already does)."""

    __slots__ = ()


@dataclass(frozen=True)
class SemaphoreStatistics:
    tasks_waiting: int


def _count(name: str, value: object, *, at_least: int) -> int:
    """``value`` as a count: an int no smaller than ``at_least``, else a clear error."""
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < at_least:
        raise ValueError(f"{name} must be >= {at_least}, got {value}")
    return value


class Semaphore(_AsyncCM):
    """A counter of free slots; ``acquire`` waits while it is zero."""

    __slots__ = ("__weakref__", "_ceiling", "_lot", "_value")

    def __init__(self, initial_value: int, *, max_value: int | None = None) -> None:
        self._value = _count("initial_value", initial_value, at_least=0)
        # No bound is an infinite ceiling: release() then needs one comparison, no None test.
        self._ceiling: float = (
            math.inf if max_value is None
            else _count("max_value", max_value, at_least=initial_value)
        )
        self._lot = ParkingLot()

    @property
    def value(self) -> int:
        return self._value

    @property
    def max_value(self) -> int | None:
        ceiling = self._ceiling
        return None if ceiling == math.inf else int(ceiling)

    def acquire_nowait(self) -> None:
        if self._value > 0:
            self._value -= 1
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        await checkpoint_if_cancelled()
        try:
            self.acquire_nowait()
        except WouldBlock:
            await self._lot.park()  # release() hands its unit straight to us
        else:
            await cancel_shielded_checkpoint()

    def release(self) -> None:
        if self._lot:
            self._lot.unpark_one()
            return
        if self._value >= self._ceiling:
            raise ValueError("semaphore released too many times")
        self._value += 1

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(len(self._lot))

    def __repr__(self) -> str:
        return f"<pike.Semaphore value={self._value} max_value={self.max_value}>"


@dataclass(frozen=True)
class ConditionStatistics:
    tasks_waiting: int
    lock_statistics: LockStatistics


class Condition(_AsyncCM):
    """Wait for a notification while holding (and re-acquiring) a lock.

    Two queues and a hand-over between them: ``wait()`` releases the lock and
    sleeps on the condition's lot; ``notify()`` moves sleepers, still asleep,
    onto the lock's own lot. Lock.release() makes the next task there the owner
    before waking it, so a notified waiter wakes up holding the lock: nobody is
    woken only to queue again.
    """

    __slots__ = ("__weakref__", "_lock", "_lot")

    def __init__(self, lock: Lock | None = None) -> None:
        # Any pike Lock will do (subclasses too): each hands ownership over in release().
        if lock is not None and not isinstance(lock, Lock):
            raise TypeError(f"Condition needs a pike.Lock, not {type(lock).__name__}")
        self._lock = Lock() if lock is None else lock
        self._lot = ParkingLot()

    def _held_lock(self, action: str) -> Lock:
        lock = self._lock
        owner = lock._owner
        if owner is None or owner is not _state.local.task:
            raise RuntimeError(f"must hold the lock to {action}")
        return lock

    def locked(self) -> bool:
        return self._lock.locked()

    def acquire_nowait(self) -> None:
        self._lock.acquire_nowait()

    async def acquire(self) -> None:
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    async def wait(self) -> None:
        lock = self._held_lock("wait")
        lock.release()
        try:
            await self._lot.park()
        except BaseException:
            # Interrupted on either lot (cancelled, or the lock broke): the caller's
            # ``async with`` still expects to leave holding the lock.
            await lock._reclaim()
            raise

    def notify(self, n: int = 1) -> None:
        if n < 0:
            raise ValueError("n must be >= 0")
        self._hand_over(self._held_lock("notify"), n)

    def notify_all(self) -> None:
        self._hand_over(self._held_lock("notify"), len(self._lot))

    def _hand_over(self, lock: Lock, count: int) -> None:
        if count and self._lot:
            # The moved tasks now wait on the lock's owner (us): watch for our exit.
            lock._watch_owner(_state.current_task())
            self._lot.repark(lock._lot, count=count)

    def statistics(self) -> ConditionStatistics:
        return ConditionStatistics(len(self._lot), self._lock.statistics())

    def __repr__(self) -> str:
        return f"<pike.Condition {len(self._lot)} waiting, lock {self._lock!r}>"


@dataclass(frozen=True)
class CapacityLimiterStatistics:
    borrowed_tokens: int
    total_tokens: float
    borrowers: Sequence[object]  # a list; the anyio adapter's subclass narrows it to a tuple
    tasks_waiting: int


class CapacityLimiter(_AsyncCM):
    """At most ``total_tokens`` borrowers at a time; each borrower holds one token.

    Waiters queue in one insertion-ordered dict from the parked task to the
    borrower it asks for. Handing a token over is then a single step (pop the
    oldest entry, record its borrower, wake its task), and a cancelled waiter's
    abort removes its entry and nothing else remains to tidy.
    """

    __slots__ = ("__weakref__", "_borrowers", "_queue", "_total_tokens")

    def __init__(self, total_tokens: float) -> None:
        self._borrowers: set[object] = set()
        self._queue: dict[Task, object] = {}
        self._total_tokens: float = 0
        self.total_tokens = total_tokens

    @property
    def total_tokens(self) -> float:
        return self._total_tokens

    @total_tokens.setter
    def total_tokens(self, new_total: float) -> None:
        if new_total != math.inf and not isinstance(new_total, int):
            raise TypeError("total_tokens must be an int or math.inf")
        if new_total < 0:
            raise ValueError("total_tokens must be >= 0")
        self._total_tokens = new_total
        self._lend_to_waiters()  # a larger total may let some of them in

    @property
    def borrowed_tokens(self) -> int:
        return len(self._borrowers)

    @property
    def available_tokens(self) -> float:
        return self._total_tokens - len(self._borrowers)

    def _lend_to_waiters(self) -> None:
        queue = self._queue
        borrowers = self._borrowers
        while queue and len(borrowers) < self._total_tokens:
            task = next(iter(queue))
            borrowers.add(queue.pop(task))
            _state.runner().reschedule(task, None)

    def _can_lend_now(self, borrower: object) -> bool:
        borrowers = self._borrowers
        if borrower in borrowers:
            raise RuntimeError(
                "this borrower is already holding one of this CapacityLimiter's tokens"
            )
        # Waiters come first, so a newcomer never takes a token from under them.
        return not self._queue and len(borrowers) < self._total_tokens

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        if not self._can_lend_now(borrower):
            raise WouldBlock
        self._borrowers.add(borrower)

    def acquire_nowait(self) -> None:
        self.acquire_on_behalf_of_nowait(_state.current_task())

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        await checkpoint_if_cancelled()
        if self._can_lend_now(borrower):
            self._borrowers.add(borrower)
            await cancel_shielded_checkpoint()
            return
        task = _state.current_task()
        queue = self._queue
        queue[task] = borrower
        # _lend_to_waiters() records our borrower before it wakes us.
        await wait_task_rescheduled(partial(leave_queue, queue, task))

    async def acquire(self) -> None:
        await self.acquire_on_behalf_of(_state.current_task())

    def release_on_behalf_of(self, borrower: object) -> None:
        try:
            self._borrowers.remove(borrower)
        except KeyError:
            raise RuntimeError(
                "this borrower isn't holding any of this CapacityLimiter's tokens"
            ) from None
        self._lend_to_waiters()

    def release(self) -> None:
        self.release_on_behalf_of(_state.current_task())

    def statistics(self) -> CapacityLimiterStatistics:
        return CapacityLimiterStatistics(
            len(self._borrowers), self._total_tokens, list(self._borrowers), len(self._queue)
        )

    def __repr__(self) -> str:
        return (
            f"<pike.CapacityLimiter {len(self._borrowers)}/{self._total_tokens} borrowed, "
            f"{len(self._queue)} waiting>"
        )


__all__ = [
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "Condition",
    "ConditionStatistics",
    "Event",
    "EventStatistics",
    "Lock",
    "LockStatistics",
    "Semaphore",
    "SemaphoreStatistics",
    "StrictFIFOLock",
]

