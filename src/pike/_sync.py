"""Event, Lock, StrictFIFOLock, Semaphore, Condition and CapacityLimiter.

All of them park tasks in a ParkingLot, so all are fair: waiters are served in
arrival order. Locks and limiters hand ownership to the woken task directly in
``release()``, so a task that arrives later cannot barge in ahead of it.
Acquiring is a checkpoint whether or not it has to wait, as in trio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import TracebackType

from ._kernel import _state
from ._kernel._cancel import CancelScope
from ._kernel._exceptions import WouldBlock
from ._kernel._parking import ParkingLot
from ._kernel._task import Task
from ._kernel._traps import (
    Abort,
    RaiseCancelT,
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
                reschedule = _state.runner().reschedule
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

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            del waiters[task]
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

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
        if owner is None and not self._lot:
            self._owner = task
            await cancel_shielded_checkpoint()
        elif owner is task:
            raise RuntimeError("Attempted to acquire an already held Lock")
        else:
            if owner is not None:
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
            hooks = owner._exit_hooks = {}
        hooks[self] = self._owner_exited

    def _owner_exited(self, task: Task) -> None:
        if self._owner is task:
            self._lot.break_lot(task)

    # ``async with lock`` awaits acquire() itself: no extra coroutine frame.
    __aenter__ = acquire

    def release(self) -> None:
        owner = self._owner
        # Outside any task both sides are None: an unlocked lock is owned by nobody.
        if owner is None or owner is not _state.local.task:
            raise RuntimeError("can't release a Lock you don't own")
        lot = self._lot
        if lot:
            owner = self._owner = lot.unpark_one()
            if lot and owner is not None:
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


class Semaphore(_AsyncCM):
    """A counter of free slots; ``acquire`` waits while it is zero."""

    __slots__ = ("__weakref__", "_lot", "_max_value", "_value")

    def __init__(self, initial_value: int, *, max_value: int | None = None) -> None:
        if not isinstance(initial_value, int):
            raise TypeError("initial_value must be an int")
        if initial_value < 0:
            raise ValueError("initial_value must be >= 0")
        if max_value is not None:
            if not isinstance(max_value, int):
                raise TypeError("max_value must be None or an int")
            if max_value < initial_value:
                raise ValueError("max_value must be >= initial_value")
        self._value = initial_value
        self._max_value = max_value
        self._lot = ParkingLot()

    @property
    def value(self) -> int:
        return self._value

    @property
    def max_value(self) -> int | None:
        return self._max_value

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
        if self._max_value is not None and self._value == self._max_value:
            raise ValueError("semaphore released too many times")
        self._value += 1

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(len(self._lot))

    def __repr__(self) -> str:
        return f"<pike.Semaphore value={self._value} max_value={self._max_value}>"


@dataclass(frozen=True)
class ConditionStatistics:
    tasks_waiting: int
    lock_statistics: LockStatistics


class Condition(_AsyncCM):
    """Wait for a notification while holding (and re-acquiring) a lock."""

    __slots__ = ("__weakref__", "_lock", "_lot")

    def __init__(self, lock: Lock | None = None) -> None:
        if lock is None:
            lock = Lock()
        if type(lock) not in (Lock, StrictFIFOLock):
            raise TypeError("Condition needs a pike.Lock")
        self._lock = lock
        self._lot = ParkingLot()

    def locked(self) -> bool:
        return self._lock.locked()

    def acquire_nowait(self) -> None:
        self._lock.acquire_nowait()

    async def acquire(self) -> None:
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    async def wait(self) -> None:
        if self._lock._owner is not _state.local.task:
            raise RuntimeError("must hold the lock to wait")
        self._lock.release()
        # notify() moves us onto the lock's lot; being woken from there means
        # release() already made us the lock's owner.
        try:
            await self._lot.park()
        except BaseException:
            with CancelScope(shield=True):
                await self._lock.acquire()
            raise

    def _check_owner(self) -> None:
        if self._lock._owner is not _state.local.task:
            raise RuntimeError("must hold the lock to notify")

    def notify(self, n: int = 1) -> None:
        self._check_owner()
        if self._lot:
            self._lock._watch_owner(_state.current_task())
            self._lot.repark(self._lock._lot, count=n)

    def notify_all(self) -> None:
        self._check_owner()
        if self._lot:
            self._lock._watch_owner(_state.current_task())
            self._lot.repark_all(self._lock._lot)

    def statistics(self) -> ConditionStatistics:
        return ConditionStatistics(len(self._lot), self._lock.statistics())


@dataclass(frozen=True)
class CapacityLimiterStatistics:
    borrowed_tokens: int
    total_tokens: float
    borrowers: list[object]
    tasks_waiting: int


class CapacityLimiter(_AsyncCM):
    """At most ``total_tokens`` borrowers at a time; each borrower holds one token."""

    __slots__ = ("__weakref__", "_borrowers", "_lot", "_pending", "_total_tokens")

    def __init__(self, total_tokens: float) -> None:
        self._borrowers: set[object] = set()
        self._pending: dict[Task, object] = {}
        self._lot = ParkingLot()
        self._total_tokens: float = 0
        self.total_tokens = total_tokens

    @property
    def total_tokens(self) -> float:
        return self._total_tokens

    @total_tokens.setter
    def total_tokens(self, new_total: float) -> None:
        if not isinstance(new_total, int) and new_total != math.inf:
            raise TypeError("total_tokens must be an int or math.inf")
        if new_total < 0:
            raise ValueError("total_tokens must be >= 0")
        self._total_tokens = new_total
        self._wake_waiters()

    @property
    def borrowed_tokens(self) -> int:
        return len(self._borrowers)

    @property
    def available_tokens(self) -> float:
        return self._total_tokens - len(self._borrowers)

    def _wake_waiters(self) -> None:
        while self._lot and len(self._borrowers) < self._total_tokens:
            task = self._lot.unpark_one()
            assert task is not None  # the lot was not empty
            self._borrowers.add(self._pending.pop(task))

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        if borrower in self._borrowers:
            raise RuntimeError(
                "this borrower is already holding one of this CapacityLimiter's tokens"
            )
        if len(self._borrowers) < self._total_tokens and not self._lot:
            self._borrowers.add(borrower)
        else:
            raise WouldBlock

    def acquire_nowait(self) -> None:
        self.acquire_on_behalf_of_nowait(_state.current_task())

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        await checkpoint_if_cancelled()
        try:
            self.acquire_on_behalf_of_nowait(borrower)
        except WouldBlock:
            task = _state.current_task()
            self._pending[task] = borrower
            try:
                await self._lot.park()
            except BaseException:
                self._pending.pop(task, None)
                raise
        else:
            await cancel_shielded_checkpoint()

    async def acquire(self) -> None:
        await self.acquire_on_behalf_of(_state.current_task())

    def release_on_behalf_of(self, borrower: object) -> None:
        if borrower not in self._borrowers:
            raise RuntimeError("this borrower isn't holding any of this CapacityLimiter's tokens")
        self._borrowers.remove(borrower)
        self._wake_waiters()

    def release(self) -> None:
        self.release_on_behalf_of(_state.current_task())

    def statistics(self) -> CapacityLimiterStatistics:
        return CapacityLimiterStatistics(
            len(self._borrowers), self._total_tokens, list(self._borrowers), len(self._lot)
        )

    def __repr__(self) -> str:
        return (
            f"<pike.CapacityLimiter {len(self._borrowers)}/{self._total_tokens} borrowed, "
            f"{len(self._lot)} waiting>"
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

