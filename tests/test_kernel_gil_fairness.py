"""Tasks that keep the run loop busy must not starve other Python threads.

The assertions compare progress (loop iterations of the spinning tasks against
steps of the thread), never wall-clock time, so a loaded machine slows both
sides alike; the iteration bounds are generous hang guards.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

import pike
from pike._kernel import _runner

# With fair sharing the worker below finishes while the spinners do on the
# order of 1e5 iterations; starved, it took 1e7 and more.
_SPIN_BUDGET = 3_000_000


def test_worker_thread_progresses_while_tasks_spin() -> None:
    worker_steps = 0
    done = threading.Event()

    def worker() -> None:
        nonlocal worker_steps
        for _ in range(100):
            time.sleep(0.001)
            worker_steps += 1
        done.set()

    async def main() -> int:
        spins = 0

        async def spin() -> None:
            nonlocal spins
            while not done.is_set() and spins < _SPIN_BUDGET:
                spins += 1
                await pike.sleep(0)

        thread = threading.Thread(target=worker)
        async with pike.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(spin)
            thread.start()
        await pike.to_thread.run_sync(thread.join)
        return spins

    spins = pike.run(main)
    assert done.is_set() and worker_steps == 100, (
        f"the worker thread made {worker_steps}/100 steps while tasks spun {spins} times"
    )


def _spin_count_handoffs(monkeypatch: pytest.MonkeyPatch, with_thread: bool) -> int:
    handoffs: list[float] = []
    real_sleep = time.sleep

    def counting_sleep(seconds: float) -> None:
        handoffs.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(_runner, "_sleep", counting_sleep)
    release = threading.Event()
    other = threading.Thread(target=release.wait, args=(60,))

    async def main() -> None:
        if with_thread:
            other.start()
        try:
            # Busy for well over one switch interval (bounded by iterations).
            started = time.perf_counter()
            for _ in range(1_000_000):
                await pike.sleep(0)
                if handoffs or time.perf_counter() - started > 0.5:
                    break
        finally:
            release.set()

    pike.run(main)
    if with_thread:
        other.join()
    return len(handoffs)


def test_busy_loop_hands_the_gil_over_when_threads_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _spin_count_handoffs(monkeypatch, with_thread=True) >= 1


_SINGLE_THREADED = """
import threading, time
import pike
from pike._kernel import _runner

handoffs = []
_runner._sleep = lambda seconds: handoffs.append(seconds)
assert threading.active_count() == 1

async def main():
    started = time.perf_counter()
    while time.perf_counter() - started < 0.5:   # ~100 switch intervals of busy loop
        await pike.sleep(0)

pike.run(main)
print(len(handoffs))
"""


def test_single_threaded_busy_loop_never_sleeps() -> None:
    # A fresh interpreter: in this one, earlier tests may have left threads alive.
    proc = subprocess.run([sys.executable, "-c", _SINGLE_THREADED], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
