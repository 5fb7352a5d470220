"""``Sequencer``: force tasks through chosen points in a fixed order (for tests).

Each ``async with seq(n)`` block starts only after block ``n - 1`` has ended.
A test can then script an interleaving (task A does its first step, then B,
then A again) without sleeps. If a task is cancelled while waiting for its
turn, the script can no longer hold: every later waiter is released with
``RuntimeError`` rather than left hanging.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .._kernel._exceptions import Cancelled
from .._sync import Event


class Sequencer:
    """Positions 0, 1, 2, ... each run once, in that order."""

    def __init__(self) -> None:
        # turn[n] is set when block n may start.
        self._turn: defaultdict[int, Event] = defaultdict(Event)
        self._used: set[int] = set()
        self._broken = False

    @asynccontextmanager
    async def __call__(self, position: int) -> AsyncIterator[None]:
        if isinstance(position, bool) or not isinstance(position, int):
            raise TypeError(f"a sequence position is an int, not {type(position).__name__}")
        if position < 0:
            raise ValueError(f"sequence positions start at 0, not {position}")
        if position in self._used:
            raise RuntimeError(f"sequence position {position} was already used")
        self._used.add(position)
        if self._broken:
            raise RuntimeError("the sequence is broken: an earlier waiter was cancelled")
        if position > 0:
            try:
                await self._turn[position].wait()
            except Cancelled:
                self._break()
                raise
            if self._broken:
                raise RuntimeError("the sequence is broken: an earlier waiter was cancelled")
        try:
            yield
        finally:
            self._turn[position + 1].set()

    def _break(self) -> None:
        self._broken = True
        for event in self._turn.values():
            event.set()
