"""Shared by the thread tests: how a limiter bounds pike.to_thread calls."""

from __future__ import annotations

import threading

import pike
from pike.testing import wait_all_tasks_blocked


async def check_limiter_bounds_threads(limiter: pike.CapacityLimiter, calls: int) -> None:
    """Start ``calls`` blocking to_thread calls: exactly ``limiter``'s tokens run, the rest
    wait on it, and every token comes back once the threads are released."""
    capacity = int(limiter.total_tokens)
    gate = threading.Event()
    async with pike.open_nursery() as nursery:
        for _ in range(calls):
            nursery.start_soon(pike.to_thread.run_sync, gate.wait, 10)
        await wait_all_tasks_blocked()
        assert limiter.borrowed_tokens == capacity
        assert limiter.statistics().tasks_waiting == calls - capacity
        gate.set()
    assert limiter.borrowed_tokens == 0
