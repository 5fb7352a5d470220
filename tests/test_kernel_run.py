"""pike.run, tasks, system tasks, contextvars and async generators."""

from __future__ import annotations

import asyncio
import contextvars
import errno
import gc
import os
import signal
import types
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import sniffio

import pike
from pike import lowlevel

# -- pike.run ------------------------------------------------------------------------


def test_run_returns_value() -> None:
    async def main() -> int:
        await lowlevel.checkpoint()
        return 42

    assert pike.run(main) == 42


def test_run_passes_positional_args() -> None:
    async def main(a: int, b: str, *rest: int) -> tuple[Any, ...]:
        return (a, b, rest)

    assert pike.run(main, 1, "x", 3, 4) == (1, "x", (3, 4))


def test_run_raises_main_exception_unwrapped() -> None:
    class Boom(Exception):
        pass

    async def main() -> None:
        await lowlevel.checkpoint()
        raise Boom("bang")

    with pytest.raises(Boom, match="bang"):
        pike.run(main)


def test_run_raises_base_exception() -> None:
    async def main() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit) as info:
        pike.run(main)
    assert info.value.code == 3


def test_run_sets_sniffio_and_restores_it() -> None:
    seen: list[str] = []

    async def main() -> None:
        seen.append(sniffio.current_async_library())

        async def child() -> None:
            seen.append(sniffio.current_async_library())

        async with pike.open_nursery() as nursery:
            nursery.start_soon(child)

    pike.run(main)
    assert seen == ["pike", "pike"]
    with pytest.raises(sniffio.AsyncLibraryNotFoundError):
        sniffio.current_async_library()


def test_run_sequentially_many_times() -> None:
    async def main(i: int) -> int:
        await pike.sleep(0)
        return i * 2

    assert [pike.run(main, i) for i in range(5)] == [0, 2, 4, 6, 8]


def test_run_state_is_gone_after_run() -> None:
    async def main() -> None:
        pass

    pike.run(main)
    with pytest.raises(RuntimeError):
        pike.current_time()
    with pytest.raises(RuntimeError):
        lowlevel.current_task()
    with pytest.raises(RuntimeError):
        lowlevel.current_token()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds through /proc")
@pytest.mark.parametrize("notifier", ["epoll", "poll"])
def test_failed_start_up_undoes_itself_and_the_next_run_works(
    notifier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose start-up fails (here: the signal wake-up fd, as under EMFILE)
    leaves no fd, no signal handler, no sniffio name and no "running" run behind."""
    from pike._notifier import notifier_by_name

    cls = type(notifier_by_name(notifier))
    fds = _open_fds()
    handler = signal.getsignal(signal.SIGINT)

    def no_fds(self: object) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    async def main() -> str:
        return "ran"

    with monkeypatch.context() as patch:
        patch.setattr(cls, "signal_wakeup_fd", no_fds)
        with pytest.raises(OSError, match="Too many open files"):
            pike.run(main, notifier=notifier)
        with pytest.raises(OSError, match="Too many open files"):
            lowlevel.SteppedRun(main, notifier=notifier).finish()
    gc.collect()
    assert _open_fds() == fds
    assert signal.getsignal(signal.SIGINT) is handler
    assert sniffio.thread_local.name is None
    assert pike.run(main, notifier=notifier) == "ran"
    stepped = lowlevel.SteppedRun(main, notifier=notifier)
    assert stepped.finish() == "ran"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds through /proc")
def test_failure_while_creating_the_run_closes_its_notifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pike._kernel import _runner

    fds = _open_fds()

    def broken(*args: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    async def main() -> None:
        pass

    with monkeypatch.context() as patch:
        patch.setattr(_runner.Runner, "begin", broken)
        with pytest.raises(OSError):
            lowlevel.SteppedRun(main)
    with monkeypatch.context() as patch:
        patch.setattr(_runner, "RunToken", broken)
        with pytest.raises(OSError):
            pike.run(main)
    assert _open_fds() == fds
    pike.run(main)


def test_current_time_is_monotonic_float() -> None:
    async def main() -> tuple[float, float]:
        t1 = pike.current_time()
        await pike.sleep(0.01)
        return t1, pike.current_time()

    t1, t2 = pike.run(main)
    assert isinstance(t1, float)
    assert t2 - t1 >= 0.01


# -- tasks -----------------------------------------------------------------------------


def test_current_task_and_names() -> None:
    async def child(out: list[lowlevel.Task]) -> None:
        out.append(lowlevel.current_task())

    async def main() -> None:
        me = lowlevel.current_task()
        assert isinstance(me, lowlevel.Task)
        assert "main" in me.name
        kids: list[lowlevel.Task] = []
        async with pike.open_nursery() as nursery:
            nursery.start_soon(child, kids)
            nursery.start_soon(child, kids, name="custom-name")
            assert me.child_nurseries == [nursery]
            assert nursery.parent_task is me
        assert me.child_nurseries == []
        names = sorted(t.name for t in kids)
        assert names[0] == "custom-name"
        assert names[1].endswith("child")
        for t in kids:
            assert t.parent_nursery is nursery
            assert t is not me
        # a task's coro is its coroutine object
        assert isinstance(me.coro, types.CoroutineType)
        assert me.coro.cr_code is main.__code__

    pike.run(main)


def test_task_name_from_partial_and_non_str() -> None:
    import functools

    async def worker(x: int) -> None:
        pass

    async def main() -> list[str]:
        names: list[str] = []
        async with pike.open_nursery() as nursery:
            nursery.start_soon(functools.partial(worker, 1))
            nursery.start_soon(worker, 2, name=12345)
            names = sorted(t.name for t in nursery.child_tasks)
        return names

    names = pike.run(main)
    assert names[0] == "12345"
    assert names[1].endswith("worker")


def test_root_task_is_ancestor() -> None:
    async def main() -> None:
        root = lowlevel.current_root_task()
        assert root is not None
        task: lowlevel.Task | None = lowlevel.current_task()
        seen = []
        while task is not None:
            seen.append(task)
            nursery = task.parent_nursery
            task = nursery.parent_task if nursery is not None else None
        assert seen[-1] is root
        assert root.parent_nursery is None

    pike.run(main)


def test_child_tasks_run_concurrently_and_parent_waits() -> None:
    order: list[str] = []

    async def child(name: str, ev_in: pike.Event, ev_out: pike.Event) -> None:
        await ev_in.wait()
        order.append(name)
        ev_out.set()

    async def main() -> None:
        a, b, c = pike.Event(), pike.Event(), pike.Event()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(child, "second", b, c)
            nursery.start_soon(child, "first", a, b)
            a.set()
        order.append("parent")

    pike.run(main)
    assert order == ["first", "second", "parent"]


def test_many_tasks() -> None:
    count = 0

    async def child() -> None:
        nonlocal count
        await pike.sleep(0)
        count += 1

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            for _ in range(1000):
                nursery.start_soon(child)

    pike.run(main)
    assert count == 1000


def test_spawn_system_task_runs_and_is_cancelled_at_end() -> None:
    events: list[str] = []

    async def system() -> None:
        events.append("system started")
        try:
            await pike.sleep_forever()
        finally:
            events.append("system cancelled")

    async def main() -> None:
        task = lowlevel.spawn_system_task(system, name="sys")
        assert task.name == "sys"
        await pike.testing.wait_all_tasks_blocked()
        events.append("main done")

    pike.run(main)
    assert events == ["system started", "main done", "system cancelled"]


def test_system_task_crash_raises_internal_error() -> None:
    async def system() -> None:
        await lowlevel.checkpoint()
        raise ValueError("system boom")

    main_finally = []

    async def main() -> None:
        lowlevel.spawn_system_task(system)
        try:
            await pike.sleep_forever()
        finally:
            main_finally.append(True)

    with pytest.raises(pike.PikeInternalError) as info:
        pike.run(main)
    assert main_finally == [True]
    cause = info.value.__cause__
    assert isinstance(cause, ValueError)
    assert str(cause) == "system boom"


def test_system_task_context_is_not_spawners_by_default() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="default")
    seen: list[str] = []

    async def system() -> None:
        seen.append(var.get())

    async def main() -> None:
        var.set("main")
        lowlevel.spawn_system_task(system)
        lowlevel.spawn_system_task(system, context=contextvars.copy_context())
        await pike.testing.wait_all_tasks_blocked()

    pike.run(main)
    assert sorted(seen) == ["default", "main"]


# -- contextvars -------------------------------------------------------------------------

cvar: contextvars.ContextVar[str] = contextvars.ContextVar("cvar", default="unset")


def test_main_task_sees_callers_context() -> None:
    async def main() -> str:
        return cvar.get()

    token = cvar.set("outside")
    try:
        assert pike.run(main) == "outside"
    finally:
        cvar.reset(token)


def test_main_task_changes_do_not_leak_out_of_run() -> None:
    async def main() -> None:
        cvar.set("inside")

    pike.run(main)
    assert cvar.get() == "unset"


def test_child_gets_copy_of_spawners_context() -> None:
    seen: dict[str, str] = {}

    async def child(name: str) -> None:
        seen[name + " start"] = cvar.get()
        cvar.set(name)
        await pike.sleep(0)
        seen[name + " end"] = cvar.get()

    async def starter(task_status: pike.TaskStatus[None] = pike.TASK_STATUS_IGNORED) -> None:
        seen["started start"] = cvar.get()
        cvar.set("started")
        task_status.started()
        await pike.sleep(0)
        seen["started end"] = cvar.get()

    async def main() -> None:
        cvar.set("parent")
        async with pike.open_nursery() as nursery:
            nursery.start_soon(child, "a")
            cvar.set("parent2")  # the copy was taken at start_soon time
            nursery.start_soon(child, "b")
            await nursery.start(starter)
            assert cvar.get() == "parent2"
        assert cvar.get() == "parent2"

    pike.run(main)
    assert seen == {
        "a start": "parent",
        "a end": "a",
        "b start": "parent2",
        "b end": "b",
        "started start": "parent2",
        "started end": "started",
    }


# -- async generators --------------------------------------------------------------------


def test_unfinished_async_generator_is_finalized_before_run_returns() -> None:
    events: list[str] = []
    keep: list[Any] = []

    async def agen() -> AsyncGenerator[int, None]:
        try:
            for i in range(10):
                await pike.sleep(0)
                yield i
        finally:
            # aclose() runs inside pike: checkpoints work here
            await pike.lowlevel.checkpoint()
            events.append(f"finally in {sniffio.current_async_library()}")

    async def main() -> None:
        gen = agen()
        keep.append(gen)  # still referenced: GC will not finalize it
        assert await gen.__anext__() == 0
        assert await gen.__anext__() == 1
        events.append("main done")

    pike.run(main)
    assert events == ["main done", "finally in pike"]


def test_garbage_collected_async_generator_is_closed_during_run() -> None:
    events: list[str] = []

    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            await pike.lowlevel.checkpoint()
            events.append("agen finally")

    async def main() -> None:
        gen = agen()
        assert await gen.__anext__() == 1
        del gen
        gc.collect()
        for _ in range(10):
            await pike.sleep(0)
        events.append("main after gc")

    pike.run(main)
    assert events == ["agen finally", "main after gc"]


def test_async_generator_hooks_restored_after_run() -> None:
    import sys

    before = sys.get_asyncgen_hooks()

    async def main() -> None:
        assert sys.get_asyncgen_hooks() != before

    pike.run(main)
    assert sys.get_asyncgen_hooks() == before


def test_exhausted_async_generator_is_fine() -> None:
    async def agen() -> AsyncGenerator[int, None]:
        yield 1

    async def main() -> list[int]:
        return [x async for x in agen()]

    assert pike.run(main) == [1]


# -- foreign awaitables ------------------------------------------------------------------


def test_awaiting_asyncio_primitive_is_a_clear_error() -> None:
    async def main() -> None:
        await asyncio.sleep(0)

    with pytest.raises(TypeError, match=r"another async library|cannot await"):
        pike.run(main)


# -- the run loop chains batches while nothing else is due ---------------------------
# Two tasks trading checkpoints keep the run queue non-empty forever; the loop
# runs batch after batch without a full turn. Each test below stops that ping-pong
# only through something the loop must still do between batches.


async def _pingpong_until(done: list[bool], started: Any = None) -> int:
    switches = 0

    async def player() -> None:
        nonlocal switches
        while not done[0]:
            switches += 1
            if started is not None:
                started.set()
            await lowlevel.checkpoint()

    async with pike.open_nursery() as nursery:
        nursery.start_soon(player)
        nursery.start_soon(player)
    return switches


def test_chained_batches_still_poll_io() -> None:
    import socket

    async def main() -> int:
        done = [False]
        a, b = socket.socketpair()
        try:

            async def reader() -> None:
                await lowlevel.wait_readable(a)
                done[0] = True

            async with pike.open_nursery() as nursery:
                nursery.start_soon(reader)
                await lowlevel.checkpoint()  # the reader is parked on the fd
                b.send(b"x")
                switches = await _pingpong_until(done)
            return switches
        finally:
            a.close()
            b.close()

    assert pike.run(main) > 0


def test_chained_batches_still_run_thread_callbacks() -> None:
    import threading

    async def main() -> int:
        done = [False]
        token = lowlevel.current_token()

        started = threading.Event()

        def set_done() -> None:
            done[0] = True

        def from_thread() -> None:
            # Only once the ping-pong runs: then only the loop can stop it.
            if started.wait(30):
                token.run_sync_soon(set_done)

        thread = threading.Thread(target=from_thread)
        thread.start()
        try:
            return await _pingpong_until(done, started)
        finally:
            thread.join(30)

    assert pike.run(main) > 0


def test_chained_batches_still_fire_deadlines() -> None:
    async def main() -> bool:
        done = [False]
        with pike.move_on_after(0.01) as scope:
            await _pingpong_until(done)
        return scope.cancelled_caught

    assert pike.run(main) is True
