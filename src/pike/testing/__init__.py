"""Tools for testing code that runs on pike."""

from .._kernel._idle import wait_all_tasks_blocked
from ._mock_clock import MockClock

__all__ = ["MockClock", "wait_all_tasks_blocked"]
