"""A cross-thread event (the seed's *event* example): threads set, tasks wait.

    python examples/event.py

Plain threads (not pike's workers) finish some work and ``set()`` events; pike
tasks sleep in the notifier until then. ``set()`` wakes the run through the
notifier's cross-thread wake-up (eventfd under epoll).
"""

from __future__ import annotations

import threading
import time

import pike


async def main() -> None:
    events = {name: pike.CrossThreadEvent() for name in ("download", "parse", "index")}

    def worker(name: str, seconds: float) -> None:
        time.sleep(seconds)  # blocking work, outside the run
        print(f"  thread {threading.current_thread().name}: {name} done, setting its event")
        events[name].set()

    async def waiter(name: str) -> None:
        start = pike.current_time()
        await events[name].wait()
        print(f"task waiting for {name!r} woke after {pike.current_time() - start:.2f} s")

    threads = [
        threading.Thread(target=worker, args=(name, 0.1 * (i + 1)), name=f"worker-{i}")
        for i, name in enumerate(events)
    ]
    async with pike.open_nursery() as nursery:
        for name in events:
            nursery.start_soon(waiter, name)
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join()
    print("all events set:", all(event.is_set() for event in events.values()))


if __name__ == "__main__":
    pike.run(main)
