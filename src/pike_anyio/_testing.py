"""anyio's TestRunner: a test and its fixtures share one pike run.

A ``pike.lowlevel.SteppedRun`` keeps the run alive between calls from pytest's
synchronous world. One long-lived task in it runs whatever it is handed (a
fixture's setup, the test, an async generator fixture's teardown) one at a
time, so context variables set by a fixture are seen by the test, as on
anyio's trio and asyncio backends.
"""

from __future__ import annotations

import collections
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import outcome
from anyio.abc import TestRunner as _AbstractTestRunner

import pike
from pike.lowlevel import RunToken, SteppedRun, current_task, current_token

from ._options import run_options

T = TypeVar("T")
_Job = tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], dict[str, Any], list[Any]]


async def _finish_fixture(agen: AsyncGenerator[Any, Any]) -> None:
    """Run an async generator fixture past its one ``yield`` to its end.

    A fixture must yield exactly once; one that yields again is closed (its
    ``finally`` blocks run) and reported, as anyio's other backends do.
    """
    try:
        await anext(agen)
    except StopAsyncIteration:
        return
    await agen.aclose()
    raise RuntimeError("Async generator fixture did not stop")


class TestRunner(_AbstractTestRunner):
    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, **options: Any) -> None:
        self._options = run_options(options)
        self._run: SteppedRun | None = None
        self._token: RunToken | None = None
        self._jobs: collections.deque[_Job | None] = collections.deque()
        self._wakeup: pike.Event | None = None

    # -- the task inside the run -------------------------------------------------

    async def _serve(self) -> None:
        self._token = current_token()
        jobs = self._jobs
        while True:
            if not jobs:
                self._wakeup = pike.Event()
                await self._wakeup.wait()
                continue
            job = jobs.popleft()
            if job is None:
                return
            func, args, kwargs, holder = job
            try:
                value = await func(*args, **kwargs)
            except BaseException as exc:
                holder.append(outcome.Error(exc))
            else:
                holder.append(outcome.Value(value))
            del job, func, args, kwargs, holder

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    # -- driving it from pytest --------------------------------------------------

    def _submit(self, job: _Job | None, /) -> None:
        run = self._run
        if run is None:
            self._token = None
            self._jobs.clear()
            run = self._run = SteppedRun(self._serve, **self._options)
            run.run_until(lambda: self._token is not None)
        if run.finished:
            run.finish()  # raises whatever ended the run
            raise RuntimeError("the pike test run has already finished")
        self._jobs.append(job)
        assert self._token is not None
        self._token.run_sync_soon(self._wake)

    def _call(self, func: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        holder: list[outcome.Outcome[T]] = []
        self._submit((func, args, kwargs, holder))
        assert self._run is not None
        self._run.run_until(lambda: bool(holder))
        if not holder:  # the run ended first (a crashed system task, say)
            run, self._run = self._run, None
            run.finish()
            raise RuntimeError("the pike test run ended before the call completed")
        return holder[0].unwrap()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: types.TracebackType | None,
    ) -> None:
        run, self._run = self._run, None
        if run is not None and not run.finished:
            self._jobs.append(None)
            assert self._token is not None
            self._token.run_sync_soon(self._wake)
            run.finish()
        elif run is not None:
            run.finish()

    def is_running(self) -> bool:
        try:
            current_task()
        except RuntimeError:
            return False
        return True

    def run_asyncgen_fixture(
        self,
        fixture_func: Callable[..., AsyncGenerator[T, Any]],
        kwargs: dict[str, Any],
    ) -> Iterable[T]:
        # Two calls into the run: one up to the fixture's yield, one for all of
        # its teardown (see _finish_fixture), so pytest's teardown is a single
        # round trip into the run whatever the fixture does.
        agen = fixture_func(**kwargs)
        yield self._call(anext, agen)
        self._call(_finish_fixture, agen)

    def run_fixture(
        self, fixture_func: Callable[..., Coroutine[Any, Any, T]], kwargs: dict[str, Any]
    ) -> T:
        return self._call(fixture_func, **kwargs)

    def run_test(
        self, test_func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        self._call(test_func, **kwargs)
