"""The deadline heap: cancel scopes waiting for their deadline to pass.

Entries are removed lazily: a scope that exits or changes its deadline only
clears its entry's scope slot. Garbage is compacted when it outweighs the live
entries, so a server opening many long timeouts that end early stays bounded.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cancel import CancelScope

# A heap entry is a list, ``[deadline, tiebreak, scope]``: lists compare
# element by element in C and the tiebreak is unique, so the scope itself is
# never compared; and a list is mutable, so a scope that leaves the heap early
# (the common case: most timeouts do not fire) retires its entry by clearing
# the scope slot, which also lets the scope be freed at once. The scope keeps
# its entry in ``_timer_entry``.
TimerEntry = list[Any]
_SCOPE = 2


class Timers:
    __slots__ = ("_counter", "_dead", "heap")

    def __init__(self) -> None:
        self.heap: list[TimerEntry] = []
        self._counter = itertools.count()
        self._dead = 0

    def add(self, scope: CancelScope) -> None:
        entry = scope._timer_entry = [scope._deadline, next(self._counter), scope]
        heapq.heappush(self.heap, entry)

    def drop(self, scope: CancelScope) -> None:
        entry = scope._timer_entry
        if entry is None:
            return
        scope._timer_entry = None
        entry[_SCOPE] = None
        self._dead += 1
        if self._dead > 256 and self._dead * 2 > len(self.heap):
            self.heap = [entry for entry in self.heap if entry[_SCOPE] is not None]
            heapq.heapify(self.heap)
            self._dead = 0

    def next_deadline(self) -> float:
        """The earliest live deadline (inf if none); pops dead entries on the way."""
        heap = self.heap
        while heap:
            entry = heap[0]
            if entry[_SCOPE] is not None:
                deadline: float = entry[0]
                return deadline
            heapq.heappop(heap)
            self._dead -= 1
        return float("inf")

    def pop_expired(self, now: float) -> list[CancelScope]:
        """Remove and return the scopes whose deadline is ``<= now``."""
        heap = self.heap
        expired: list[CancelScope] = []
        while heap and heap[0][0] <= now:
            scope = heapq.heappop(heap)[_SCOPE]
            if scope is None:
                self._dead -= 1
            else:
                scope._timer_entry = None
                expired.append(scope)
        return expired
