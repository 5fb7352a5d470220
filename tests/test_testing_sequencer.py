"""pike.testing.Sequencer: scripted interleavings, and what happens when the script breaks."""

from __future__ import annotations

import pytest

import pike
from pike.testing import Sequencer, wait_all_tasks_blocked


def test_blocks_run_in_position_order_across_tasks() -> None:
    async def main() -> list[str]:
        seq = Sequencer()
        log: list[str] = []

        async def task_a() -> None:
            async with seq(1):
                log.append("a1")
            async with seq(3):
                log.append("a3")

        async def task_b() -> None:
            async with seq(0):
                log.append("b0")
            async with seq(2):
                log.append("b2")
            async with seq(4):
                log.append("b4")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(task_a)
            nursery.start_soon(task_b)
        return log

    assert pike.run(main) == ["b0", "a1", "b2", "a3", "b4"]


def test_reusing_a_position_is_an_error() -> None:
    async def main() -> None:
        seq = Sequencer()
        async with seq(0):
            pass
        with pytest.raises(RuntimeError, match="already used"):
            async with seq(0):
                pass

    pike.run(main)


@pytest.mark.parametrize(("position", "error"), [(-1, ValueError), ("1", TypeError),
                                                 (True, TypeError)])
def test_bad_positions(position: object, error: type[Exception]) -> None:
    async def main() -> None:
        with pytest.raises(error):
            async with Sequencer()(position):  # type: ignore[arg-type]  # wrong on purpose
                pass

    pike.run(main)


def test_a_cancelled_waiter_breaks_the_sequence_for_everyone() -> None:
    async def main() -> list[str]:
        seq = Sequencer()
        log: list[str] = []

        async def waiter(position: int) -> None:
            try:
                async with seq(position):
                    log.append(f"ran {position}")
            except RuntimeError:
                log.append(f"broken {position}")

        async with pike.open_nursery() as nursery:
            with pike.CancelScope() as scope:
                nursery.start_soon(waiter, 2)
                nursery.start_soon(waiter, 3)
                await wait_all_tasks_blocked()
                scope.cancel()
                async with seq(1):  # waits for 0, which never comes ...
                    log.append("ran 1")
            assert scope.cancelled_caught
        # ... so its cancellation broke the sequence, and later positions fail.
        with pytest.raises(RuntimeError, match="broken"):
            async with seq(5):
                pass
        return sorted(log)

    assert pike.run(main) == ["broken 2", "broken 3"]
