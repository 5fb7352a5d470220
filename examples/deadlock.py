"""A deadlocked program, and how pike shows where each task is stuck.

Two workers each hold one lock and wait for the other's. With
``debug=True`` pike notices that nothing has happened for a while and prints
the task tree: every task, its nurseries and cancel scopes, and the line it
waits on. A ``move_on_after`` ends the demo so it exits by itself.

    python examples/deadlock.py            # report after 1 s, give up after 3 s
"""

from __future__ import annotations

import argparse

import pike


async def worker(name: str, mine: pike.Lock, theirs: pike.Lock) -> None:
    async with mine:
        await pike.sleep(0.1)  # let the other worker take its lock too
        async with theirs:  # never: the other worker holds it and waits for ours
            print(f"{name} got both locks")


async def main(give_up_after: float) -> None:
    lock_a, lock_b = pike.Lock(), pike.Lock()
    with pike.move_on_after(give_up_after) as scope:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(worker, "left", lock_a, lock_b, name="left")
            nursery.start_soon(worker, "right", lock_b, lock_a, name="right")
    if scope.cancelled_caught:
        print(f"deadlock: gave up after {give_up_after} s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-after", type=float, default=1.0)
    parser.add_argument("--give-up-after", type=float, default=3.0)
    opts = parser.parse_args()
    pike.run(main, opts.give_up_after, debug=True, stuck_report_seconds=opts.report_after)
