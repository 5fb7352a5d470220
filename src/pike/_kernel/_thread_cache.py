"""A cache of reusable worker threads for blocking calls.

Starting a thread costs far more than handing a job to an idle one, so idle
workers wait (LIFO, to keep the hottest thread busy) for up to ``IDLE_SECONDS``
before exiting. Each worker sleeps on its own lock: handing it a job is one
``release()``. The cache belongs to one run and is emptied when the run ends,
so no idle thread outlives ``pike.run``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import outcome

IDLE_SECONDS = 10.0

Job = tuple[Callable[[], Any], Callable[[outcome.Outcome[Any]], None]]


class _Worker:
    __slots__ = ("_cache", "_job", "_thread", "_wakeup")

    def __init__(self, cache: ThreadCache, name: str) -> None:
        self._cache = cache
        self._job: Job | None = None
        self._wakeup = threading.Lock()
        self._wakeup.acquire()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def give(self, job: Job | None) -> None:
        self._job = job
        self._wakeup.release()

    def _main(self) -> None:
        cache = self._cache
        while True:
            if not self._wakeup.acquire(timeout=IDLE_SECONDS):
                with cache._mutex:
                    if self in cache._idle:
                        cache._idle.remove(self)
                        return
                # Someone took us off the idle list just now: a job is coming.
                self._wakeup.acquire()
            job, self._job = self._job, None
            if job is None:
                return
            fn, deliver = job
            result = outcome.capture(fn)
            # Back on the idle list *before* delivering: the woken task may
            # submit its next job at once, and should find this thread, and a
            # shutdown that follows must find (and join) it too.
            with cache._mutex:
                closed = cache._closed
                if not closed:
                    cache._idle.append(self)
            deliver(result)
            del job, fn, deliver, result
            if closed:
                return


class ThreadCache:
    __slots__ = ("_closed", "_counter", "_idle", "_mutex", "_workers")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._idle: list[_Worker] = []
        self._workers: list[_Worker] = []
        self._closed = False
        self._counter = 0

    def start(self, fn: Callable[[], Any], deliver: Callable[[outcome.Outcome[Any]], None]) -> None:
        """Run ``fn()`` in a worker and pass its outcome to ``deliver`` (in that thread)."""
        with self._mutex:
            if self._closed:
                raise RuntimeError("the run's worker threads have shut down")
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._counter += 1
                worker = _Worker(self, f"pike worker {self._counter}")
                self._workers = [w for w in self._workers if w._thread.is_alive()]
                self._workers.append(worker)
        worker.give((fn, deliver))

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop idle workers and wait for them; busy (abandoned) ones exit when done."""
        with self._mutex:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.give(None)
        for worker in idle:
            worker._thread.join(timeout)
