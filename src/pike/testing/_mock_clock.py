"""MockClock: virtual time for deterministic tests."""

from __future__ import annotations

import math
import time

from .._kernel import _state
from .._kernel._clock import Clock


class MockClock(Clock):
    """A clock that runs at ``rate`` times real time (default: stopped) and can jump.

    With ``autojump_threshold`` set, whenever every task has been blocked that
    long (in real seconds), time jumps straight to the next deadline, so tests
    of timeouts run instantly. ``autojump_threshold=0`` jumps as soon as the
    run is idle.
    """

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        self._real_base = 0.0
        self._virtual_base = 0.0
        self._rate = 0.0
        self._autojump_threshold = math.inf
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    def __repr__(self) -> str:
        return f"<MockClock time={self.current_time():.7f} rate={self._rate}>"

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, new_rate: float) -> None:
        if new_rate < 0:
            raise ValueError("rate must be >= 0")
        real = time.perf_counter()
        self._virtual_base = self._real_to_virtual(real)
        self._real_base = real
        self._rate = float(new_rate)

    @property
    def autojump_threshold(self) -> float:
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, new_threshold: float) -> None:
        if math.isnan(new_threshold) or new_threshold < 0:
            raise ValueError("autojump_threshold must be >= 0")
        self._autojump_threshold = float(new_threshold)
        runner = _state.local.runner
        if runner is not None and runner.clock is self:
            runner.autojump_threshold = self._autojump_threshold
            runner.notifier.wake()

    def _real_to_virtual(self, real: float) -> float:
        return self._virtual_base + self._rate * (real - self._real_base)

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self._real_to_virtual(time.perf_counter())

    def deadline_to_sleep_time(self, deadline: float) -> float:
        virtual_timeout = deadline - self.current_time()
        if virtual_timeout <= 0:
            return 0.0
        if self._rate > 0:
            return virtual_timeout / self._rate
        return math.inf

    def jump(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (which must not be negative)."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        self._virtual_base += seconds

    def _autojump(self, next_deadline: float) -> None:
        jump = next_deadline - self.current_time()
        if 0 < jump < math.inf:
            self.jump(jump)
