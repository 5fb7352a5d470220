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

# [deadline, tiebreak, scope or None]; a list so the scope slot can be cleared.
Entry = list[object]


class Timers:
    __slots__ = ("_counter", "_dead", "heap")

    def __init__(self) -> None:
        self.heap: list[Entry] = []
        self._counter = itertools.count()
        self._dead = 0

    def add(self, scope: CancelScope) -> None:
        entry: Entry = [scope._deadline, next(self._counter), scope]
        scope._timer_entry = entry
        heapq.heappush(self.heap, entry)

    def drop(self, scope: CancelScope) -> None:
        entry = scope._timer_entry
        if entry is None:
            return
        scope._timer_entry = None
        entry[2] = None
        self._dead += 1
        if self._dead > 256 and self._dead * 2 > len(self.heap):
            self.heap = [e for e in self.heap if e[2] is not None]
            heapq.heapify(self.heap)
            self._dead = 0

    def next_deadline(self) -> float:
        """The earliest live deadline (inf if none); pops dead entries on the way."""
        heap = self.heap
        while heap:
            entry = heap[0]
            if entry[2] is not None:
                return entry[0]  # type: ignore[return-value]
            heapq.heappop(heap)
            self._dead -= 1
        return float("inf")

    def pop_expired(self, now: float) -> list[CancelScope]:
        """Remove and return the scopes whose deadline is ``<= now``."""
        heap = self.heap
        expired: list[CancelScope] = []
        while heap and heap[0][0] <= now:  # type: ignore[operator]
            entry = heapq.heappop(heap)
            scope = entry[2]
            if scope is None:
                self._dead -= 1
            else:
                scope._timer_entry = None  # type: ignore[attr-defined]
                expired.append(scope)  # type: ignore[arg-type]
        return expired
