"""anyio's Event, Lock, Semaphore and CapacityLimiter on pike's primitives.

Event, Lock and CapacityLimiter are pike's classes with anyio's abstract class
as a second base (``isinstance`` checks pass, every method is pike's own). What
differs is translated where it differs: anyio's ``WouldBlock`` and statistics
types, and ``fast_acquire`` (skip the yield when the lock is free). anyio's
Semaphore has a slot of its own, which cannot share an instance layout with
pike's, so that one wraps a ``pike.Semaphore``.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from anyio import (
    CapacityLimiterStatistics,
    EventStatistics,
    LockStatistics,
    SemaphoreStatistics,
)

import pike
from pike.lowlevel import checkpoint_if_cancelled

from ._taskinfo import PikeTaskInfo


class WouldBlock(anyio.WouldBlock, pike.WouldBlock):
    """Both libraries' WouldBlock at once.

    anyio callers of ``*_nowait`` catch ``anyio.WouldBlock``; pike's blocking
    ``acquire()`` calls ``self.acquire_nowait()`` and catches ``pike.WouldBlock``.
    Raising one exception that is both lets the nowait methods be overridden
    without rewriting the blocking ones.
    """


@dataclass(frozen=True)
class _EventStatistics(EventStatistics, pike.EventStatistics):
    """Both libraries' Event statistics at once (the fields are the same)."""


@dataclass(frozen=True)
class _CapacityLimiterStatistics(CapacityLimiterStatistics, pike.CapacityLimiterStatistics):
    """Both libraries' limiter statistics at once; ``borrowers`` is anyio's tuple."""


# The three ``type: ignore[misc]`` below: mypy counts anyio's ``__slots__ = ("__weakref__",)``
# as an instance layout of its own (PEP 800 disjoint base); CPython does not, and the
# classes below are created and tested at runtime.


class Event(pike.Event, anyio.Event):  # type: ignore[misc]  # see above
    __slots__ = ()

    def __new__(cls) -> Event:
        return object.__new__(cls)

    def statistics(self) -> _EventStatistics:
        return _EventStatistics(pike.Event.statistics(self).tasks_waiting)


class Lock(pike.Lock, anyio.Lock):  # type: ignore[misc]  # see above Event
    """anyio's Lock: pike's own ``acquire``/``release``/``async with``.

    ``fast_acquire=True`` gets a subclass rather than a flag tested on every
    acquire, so the common lock pays nothing for the option.
    """

    __slots__ = ()

    def __new__(cls, *, fast_acquire: bool = False) -> Lock:
        return object.__new__(_FastAcquireLock if fast_acquire else cls)

    def __init__(self, *, fast_acquire: bool = False) -> None:
        pike.Lock.__init__(self)

    def acquire_nowait(self) -> None:
        try:
            pike.Lock.acquire_nowait(self)
        except pike.WouldBlock:
            raise WouldBlock from None

    # pike's statistics name the owning Task, anyio's a TaskInfo: no one object is both.
    def statistics(self) -> LockStatistics:  # type: ignore[override]  # see the line above
        stats = pike.Lock.statistics(self)
        owner = PikeTaskInfo(stats.owner) if stats.owner is not None else None
        return LockStatistics(stats.locked, owner, stats.tasks_waiting)


class _FastAcquireLock(Lock):
    """``Lock(fast_acquire=True)``: a free lock is taken without a schedule point."""

    __slots__ = ()

    async def acquire(self) -> None:
        await checkpoint_if_cancelled()
        try:
            self.acquire_nowait()
        except WouldBlock:
            await pike.Lock.acquire(self)

    __aenter__ = acquire


class Semaphore(anyio.Semaphore):
    __slots__ = ("_semaphore",)

    def __new__(
        cls, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> Semaphore:
        return object.__new__(cls)

    def __init__(
        self, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> None:
        anyio.Semaphore.__init__(
            self, initial_value, max_value=max_value, fast_acquire=fast_acquire
        )
        self._semaphore = pike.Semaphore(initial_value, max_value=max_value)

    async def acquire(self) -> None:
        semaphore = self._semaphore
        if not self._fast_acquire:
            await semaphore.acquire()
            return
        await checkpoint_if_cancelled()
        try:
            semaphore.acquire_nowait()
        except pike.WouldBlock:
            await semaphore.acquire()

    def acquire_nowait(self) -> None:
        try:
            self._semaphore.acquire_nowait()
        except pike.WouldBlock:
            raise WouldBlock from None

    def release(self) -> None:
        self._semaphore.release()

    @property
    def value(self) -> int:
        return self._semaphore.value

    @property
    def max_value(self) -> int | None:
        return self._semaphore.max_value

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(self._semaphore.statistics().tasks_waiting)


class CapacityLimiter(pike.CapacityLimiter, anyio.CapacityLimiter):  # type: ignore[misc]  # see above Event
    __slots__ = ()

    def __new__(cls, total_tokens: float) -> CapacityLimiter:
        return object.__new__(cls)

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        try:
            pike.CapacityLimiter.acquire_on_behalf_of_nowait(self, borrower)
        except pike.WouldBlock:
            raise WouldBlock from None

    def statistics(self) -> _CapacityLimiterStatistics:
        stats = pike.CapacityLimiter.statistics(self)
        return _CapacityLimiterStatistics(
            stats.borrowed_tokens, stats.total_tokens, tuple(stats.borrowers),
            stats.tasks_waiting,
        )


