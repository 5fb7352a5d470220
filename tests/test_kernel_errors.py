"""Bad input gets a clear error (and no 'never awaited' noise)."""

from __future__ import annotations

import contextlib
import gc
import math
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import pike
from pike import lowlevel


@contextlib.contextmanager
def no_never_awaited(owner: str) -> Iterator[None]:
    """Fail if a coroutine of ``owner``'s local functions was never awaited.

    Tests define their async functions locally, so the warning names them
    (``test_x.<locals>.fn``) and garbage from other tests is not blamed here.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    bad = [
        str(w.message)
        for w in caught
        if "never awaited" in str(w.message) and f"{owner}.<locals>" in str(w.message)
    ]
    assert not bad


async def async_fn() -> str:
    await lowlevel.checkpoint()
    return "ok"


def sync_fn() -> str:
    return "sync"


# -- pike.run --------------------------------------------------------------------------


def test_run_with_sync_function() -> None:
    with no_never_awaited("test_run_with_sync_function"), pytest.raises(TypeError, match="async"):
        pike.run(sync_fn)  # type: ignore[arg-type]  # wrong on purpose


def test_run_with_coroutine_object() -> None:
    with no_never_awaited("test_run_with_coroutine_object"):
        async def local_fn() -> None:
            pass

        with pytest.raises(TypeError, match="coroutine"):
            pike.run(local_fn())  # type: ignore[arg-type]  # wrong on purpose


def test_run_with_non_callable() -> None:
    with no_never_awaited("test_run_with_non_callable"), pytest.raises(TypeError):
        pike.run(42)  # type: ignore[arg-type]  # wrong on purpose


def test_run_with_bad_notifier_name() -> None:
    with pytest.raises(ValueError, match="notifier"):
        pike.run(async_fn, notifier="no-such-thing")


def test_run_inside_run() -> None:
    with no_never_awaited("test_run_inside_run"):
        async def main() -> str:
            with pytest.raises(RuntimeError, match="inside"):
                pike.run(async_fn)
            # the outer run is unharmed
            await pike.sleep(0)
            return await async_fn()

        assert pike.run(main) == "ok"


def test_run_inside_run_with_coroutine_object_closes_it() -> None:
    with no_never_awaited("test_run_inside_run_with_coroutine_object_closes_it"):
        # Two mistakes at once: the coroutine object must still be closed.
        async def local_fn() -> None:
            pass

        async def main() -> None:
            with pytest.raises((RuntimeError, TypeError)):
                pike.run(local_fn())  # type: ignore[arg-type]  # wrong on purpose

        pike.run(main)


def test_run_inside_run_from_a_worker_thread_is_allowed() -> None:
    # A worker thread is not inside the run: it may start its own (trio allows it).
    async def main() -> str:
        return await pike.to_thread.run_sync(pike.run, async_fn)

    assert pike.run(main) == "ok"


def test_run_in_two_threads_at_once() -> None:
    results: list[Any] = []
    barrier = threading.Barrier(2)

    async def main(i: int) -> int:
        await pike.to_thread.run_sync(barrier.wait, 10)
        await pike.sleep(0.01)
        return i

    def thread_main(i: int) -> None:
        results.append(pike.run(main, i))

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 1]


# -- start_soon / start ----------------------------------------------------------------


def test_start_soon_sync_function() -> None:
    with no_never_awaited("test_start_soon_sync_function"):
        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError, match="async"):
                    nursery.start_soon(sync_fn)  # type: ignore[arg-type]  # wrong on purpose
                assert nursery.child_tasks == frozenset()

        pike.run(main)


def test_start_soon_coroutine_object() -> None:
    with no_never_awaited("test_start_soon_coroutine_object"):
        async def local_fn() -> None:
            pass

        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError, match="coroutine"):
                    nursery.start_soon(local_fn())  # type: ignore[arg-type]  # wrong on purpose

        pike.run(main)


def test_start_soon_non_callable() -> None:
    with no_never_awaited("test_start_soon_non_callable"):
        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError):
                    nursery.start_soon(None)  # type: ignore[arg-type]  # wrong on purpose

        pike.run(main)


def test_start_soon_async_fn_with_wrong_args() -> None:
    with no_never_awaited("test_start_soon_async_fn_with_wrong_args"):
        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError):
                    nursery.start_soon(async_fn, 1, 2, 3)

        pike.run(main)


def test_start_soon_function_returning_awaitable_non_coroutine() -> None:
    with no_never_awaited("test_start_soon_function_returning_awaitable_non_coroutine"):
        class Awaitable:
            def __await__(self) -> Iterator[None]:
                yield None

        def returns_awaitable() -> Awaitable:
            return Awaitable()

        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError):
                    # The wrong type is the point of this call (the ignore below).
                    nursery.start_soon(returns_awaitable)  # type: ignore[arg-type]

        pike.run(main)


def test_start_sync_function() -> None:
    with no_never_awaited("test_start_sync_function"):
        def sync_with_status(task_status: Any = pike.TASK_STATUS_IGNORED) -> None:
            pass

        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError, match="async"):
                    # The wrong type is the point of this call (the ignore below).
                    await nursery.start(sync_with_status)  # type: ignore[arg-type]
                with pytest.raises(TypeError):
                    await nursery.start(async_fn)  # no task_status parameter

        pike.run(main)


def test_start_coroutine_object() -> None:
    with no_never_awaited("test_start_coroutine_object"):
        async def with_status(task_status: Any = pike.TASK_STATUS_IGNORED) -> None:
            task_status.started()

        async def main() -> None:
            async with pike.open_nursery() as nursery:
                with pytest.raises(TypeError, match="coroutine"):
                    await nursery.start(with_status())  # type: ignore[arg-type]  # wrong on purpose

        pike.run(main)


def test_spawn_system_task_bad_input() -> None:
    with no_never_awaited("test_spawn_system_task_bad_input"):
        async def local_fn() -> None:
            pass

        async def main() -> None:
            with pytest.raises(TypeError):
                lowlevel.spawn_system_task(sync_fn)  # type: ignore[arg-type]  # wrong on purpose
            with pytest.raises(TypeError):
                lowlevel.spawn_system_task(local_fn())  # type: ignore[arg-type]  # wrong on purpose

        pike.run(main)


def test_task_exiting_inside_cancel_scope_is_an_error() -> None:
    async def leaky() -> None:
        pike.CancelScope().__enter__()

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(leaky)

    with pytest.raises(BaseExceptionGroup) as info:
        pike.run(main)
    assert info.value.subgroup(RuntimeError) is not None


# -- outside a run ---------------------------------------------------------------------


def test_kernel_calls_outside_run() -> None:
    with pytest.raises(RuntimeError):
        pike.CancelScope().__enter__()
    with pytest.raises(RuntimeError):
        pike.current_effective_deadline()
    with pytest.raises(RuntimeError):
        lowlevel.current_root_task()
    with pytest.raises(RuntimeError):
        lowlevel.spawn_system_task(async_fn)
    with pytest.raises(RuntimeError):
        lowlevel.current_clock()
    with pytest.raises(RuntimeError):
        pike.from_thread.run_sync(sync_fn)  # main thread, no token, no run


def test_sleep_bad_values() -> None:
    async def main() -> None:
        for bad in (-1, -0.001, -math.inf, math.nan):
            with pytest.raises(ValueError):
                await pike.sleep(bad)
        with pytest.raises(TypeError):
            await pike.sleep(None)  # type: ignore[arg-type]  # wrong on purpose
        with pytest.raises(ValueError):
            await pike.sleep_until(math.nan)

    pike.run(main)


def test_nan_deadlines() -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            pike.CancelScope(deadline=math.nan)
        with pytest.raises(ValueError):
            pike.move_on_at(math.nan)
        with pytest.raises(ValueError):
            pike.fail_at(math.nan)
        with pytest.raises(ValueError):
            pike.move_on_after(math.nan)
        with pike.CancelScope() as scope, pytest.raises(ValueError):
            scope.deadline = math.nan

    pike.run(main)


def test_from_thread_in_event_loop_thread() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError):
            pike.from_thread.run_sync(sync_fn)
        with pytest.raises(RuntimeError):
            pike.from_thread.run(async_fn)

    pike.run(main)
