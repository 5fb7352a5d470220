"""MockClock: virtual time for deterministic tests."""

from __future__ import annotations

import math
import time

from .._kernel import _state
from .._kernel._clock import Clock


def _elapsed_real(origin: float) -> float:
    return time.perf_counter() - origin


class MockClock(Clock):
    """Virtual time that runs at ``rate`` times real time (default: stopped) and can jump.

    With ``autojump_threshold`` set, whenever every task has been blocked that
    long (in real seconds), time jumps straight to the next deadline, so tests
    of timeouts run instantly. ``autojump_threshold=0`` jumps as soon as the
    run is idle.

    The state is a single line: virtual time is ``_offset + _rate * r``, where
    ``r`` is real time elapsed since the clock was made. A jump moves the line
    up; a rate change turns it around the present instant (the offset is
    re-solved so the current reading stays put). Reading the clock is thus one
    multiply-add, with no history kept.
    """

    __slots__ = ("_autojump_threshold", "_offset", "_origin", "_rate")

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        self._origin = time.perf_counter()
        self._offset = 0.0
        self._rate = 0.0
        self._autojump_threshold = math.inf
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    # -- settings -------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """Virtual seconds per real second; 0 freezes the clock between jumps."""
        return self._rate

    @rate.setter
    def rate(self, new_rate: float) -> None:
        if not new_rate >= 0:  # also refuses NaN
            raise ValueError("rate must be >= 0")
        real = _elapsed_real(self._origin)
        now = self._offset + self._rate * real
        self._rate = float(new_rate)
        self._offset = now - self._rate * real

    @property
    def autojump_threshold(self) -> float:
        """Real seconds of total idleness after which time skips to the next deadline."""
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, new_threshold: float) -> None:
        if not new_threshold >= 0:  # also refuses NaN
            raise ValueError("autojump_threshold must be >= 0")
        self._autojump_threshold = float(new_threshold)
        # A run using this clock copied the old threshold when it started; give it the
        # new one and wake its loop, which may be blocked on the old timeout.
        runner = _state.local.runner
        if runner is not None and runner.clock is self:
            runner.autojump_threshold = self._autojump_threshold
            runner.notifier.wake()

    # -- the Clock interface ----------------------------------------------------------

    def start_clock(self) -> None:
        """Nothing to do: virtual time is defined from the clock's creation."""

    def current_time(self) -> float:
        return self._offset + self._rate * _elapsed_real(self._origin)

    def deadline_to_sleep_time(self, deadline: float) -> float:
        ahead = deadline - self.current_time()
        if ahead <= 0:
            return 0.0
        # Stopped time never reaches a future deadline by itself; only a jump will.
        return ahead / self._rate if self._rate else math.inf

    # -- moving time by hand ------------------------------------------------------------

    def jump(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (which must not be negative)."""
        if not seconds >= 0:
            raise ValueError("time can't go backwards")
        self._offset += seconds

    def _autojump(self, next_deadline: float) -> None:
        """Called by the run loop once it has been idle for ``autojump_threshold``."""
        gap = next_deadline - self.current_time()
        if 0 < gap < math.inf:
            self._offset += gap

    def __repr__(self) -> str:
        return f"<MockClock time={self.current_time():.7f} rate={self._rate}>"
