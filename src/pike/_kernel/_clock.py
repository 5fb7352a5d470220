"""Clocks: where the kernel gets the time and how long it may sleep."""

from __future__ import annotations

import abc
import time
from typing import Protocol, runtime_checkable


class Clock(abc.ABC):
    """The interface the run loop needs from a clock (trio's ``Clock`` shape)."""

    @abc.abstractmethod
    def start_clock(self) -> None:
        """Called once, just before the run starts."""

    @abc.abstractmethod
    def current_time(self) -> float:
        """The current time, in seconds, on this clock."""

    @abc.abstractmethod
    def deadline_to_sleep_time(self, deadline: float) -> float:
        """How many real seconds to block in the notifier to reach ``deadline``."""


class SystemClock(Clock):
    """``time.monotonic``: never goes backwards, unaffected by wall-clock changes."""

    __slots__ = ()

    def start_clock(self) -> None:
        pass

    # time.monotonic itself, not a method calling it: reading the clock (every
    # deadline scope entered, every current_time()) then runs no Python frame.
    current_time = staticmethod(time.monotonic)

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return deadline - time.monotonic()


@runtime_checkable
class AutojumpClock(Protocol):
    """What the run loop asks of a clock that can skip idle time (MockClock).

    When every task has been blocked for ``autojump_threshold`` real seconds
    and a deadline is pending, the loop calls ``_autojump`` with that deadline
    instead of sleeping until it.
    """

    @property
    def autojump_threshold(self) -> float: ...

    def _autojump(self, next_deadline: float) -> None: ...
