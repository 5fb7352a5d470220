"""The deadline heap: cancel scopes waiting for their deadline to pass.

Entries are removed lazily: a scope that exits or changes its deadline only
clears its entry's scope slot. Garbage is compacted when it outweighs the live
entries, so a server opening many long timeouts that end early stays bounded.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cancel import CancelScope

class TimerEntry:
    """One scope's place in the heap; ``scope`` is cleared to retire it lazily."""

    __slots__ = ("scope",)

    def __init__(self, scope: CancelScope) -> None:
        self.scope: CancelScope | None = scope


# The heap holds (deadline, tiebreak, entry) tuples: tuples compare in C, and
# the unique tiebreak means the entry itself is never compared.
_HeapItem = tuple[float, int, TimerEntry]


class Timers:
    __slots__ = ("_counter", "_dead", "heap")

    def __init__(self) -> None:
        self.heap: list[_HeapItem] = []
        self._counter = itertools.count()
        self._dead = 0

    def add(self, scope: CancelScope) -> None:
        entry = TimerEntry(scope)
        scope._timer_entry = entry
        heapq.heappush(self.heap, (scope._deadline, next(self._counter), entry))

    def drop(self, scope: CancelScope) -> None:
        entry = scope._timer_entry
        if entry is None:
            return
        scope._timer_entry = None
        entry.scope = None
        self._dead += 1
        if self._dead > 256 and self._dead * 2 > len(self.heap):
            self.heap = [item for item in self.heap if item[2].scope is not None]
            heapq.heapify(self.heap)
            self._dead = 0

    def next_deadline(self) -> float:
        """The earliest live deadline (inf if none); pops dead entries on the way."""
        heap = self.heap
        while heap:
            deadline, _, entry = heap[0]
            if entry.scope is not None:
                return deadline
            heapq.heappop(heap)
            self._dead -= 1
        return float("inf")

    def pop_expired(self, now: float) -> list[CancelScope]:
        """Remove and return the scopes whose deadline is ``<= now``."""
        heap = self.heap
        expired: list[CancelScope] = []
        while heap and heap[0][0] <= now:
            scope = heapq.heappop(heap)[2].scope
            if scope is None:
                self._dead -= 1
            else:
                scope._timer_entry = None
                expired.append(scope)
        return expired
