"""anyio's TaskGroup on a pike nursery.

pike's nurseries already have anyio's semantics: strict exception groups, a
failing child cancels its siblings, a group that only saw cancellations lets a
single ``Cancelled`` out, ``start()`` keeps the child under the caller's scope
until ``task_status.started()``. What is left here is anyio's API shape: tasks
come in as coroutine objects wrapped in ``TaskHandle`` (anyio's own class, so
handles behave the same on every backend), and the "not active" rules. Before
anyio 4.14 there are no handles and task groups implement ``start_soon``
themselves (see ``_compat``).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Coroutine
from contextvars import Context
from types import TracebackType
from typing import Any, Literal

from anyio.abc import TaskGroup as _AbstractTaskGroup

import pike

from ._cancel import CancelScope
from ._compat import (
    TaskHandle,
    call_for_coroutine,
    get_callable_name,
    get_coro_name,
    new_task_handle,
)

_INACTIVE = "This task group is not active; no new tasks can be started."


_UNSET: Any = object()


class _Starter:
    """What ``start()`` runs in the new task, and the task status its function sees.

    The function is called inside the task pike starts, because only there does
    pike's ``task_status`` exist. A ``started()`` made while merely *calling* the
    function (a sync wrapper that returns a coroutine) is held until the call
    returns, so an error in that call (``started()`` twice, say) still comes out
    of ``start()`` rather than out of the task group.
    """

    __slots__ = ("args", "early_value", "func", "handle", "name", "status")

    def __init__(self, func: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...],
                 name: str) -> None:
        self.func = func
        self.args = args
        self.name = name
        self.handle: Any = None
        self.status: pike.TaskStatus[Any] | None = None
        self.early_value: Any = _UNSET

    def started(self, value: Any = None) -> None:
        status = self.status
        if status is not None:
            status.started(value)
        elif self.early_value is not _UNSET:
            raise RuntimeError("called 'started' twice on the same task status")
        else:
            self.early_value = value

    async def run(self, *, task_status: pike.TaskStatus[Any]) -> None:
        coro = call_for_coroutine(self.func, self.args, task_status=self)
        if self.early_value is not _UNSET:
            task_status.started(self.early_value)
        self.status = task_status
        if TaskHandle is None:
            await coro
            return
        handle = self.handle = new_task_handle(coro, self.name, CancelScope())
        await handle._run_coro()


class TaskGroup(_AbstractTaskGroup):
    """anyio's task group: a pike nursery whose cancel scope is anyio's CancelScope.

    The scope is made here and handed to the nursery, so ``tg.cancel_scope`` is
    the nursery's own scope from the start. The group is *active* exactly while
    ``_nursery`` is set: between ``__aenter__`` and ``__aexit__``.
    """

    __slots__ = ("_nursery", "_nursery_cm", "_used")

    def __init__(self) -> None:
        self.cancel_scope = CancelScope()
        self._nursery_cm = pike.open_nursery(cancel_scope=self.cancel_scope)
        self._nursery: pike.Nursery | None = None
        self._used = False

    async def __aenter__(self) -> TaskGroup:
        if self._used:
            raise RuntimeError("TaskGroup cannot be entered more than once")
        self._used = True
        self._nursery = await self._nursery_cm.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        try:
            return await self._nursery_cm.__aexit__(exc_type, exc_val, exc_tb)
        finally:
            self._nursery = None
            del exc_val, exc_tb

    def _active_nursery(self) -> pike.Nursery:
        nursery = self._nursery
        if nursery is None:
            raise RuntimeError(_INACTIVE)
        return nursery

    def create_task(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> Any:
        if not isinstance(coro, Coroutine):
            raise TypeError(f"expected a coroutine, got {coro.__class__.__qualname__}")
        if self._nursery is None:
            coro.close()  # never to run: close it so Python does not warn it was never awaited
            raise RuntimeError(_INACTIVE)
        # Our CancelScope directly: anyio's default would look the backend up again.
        handle = new_task_handle(coro, get_coro_name(coro, name), CancelScope())
        spawn = functools.partial(self._nursery.start_soon, handle._run_coro, name=handle.name)
        if context is None:
            spawn()
        else:
            context.run(spawn)
        return handle

    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, Any]],
        *args: object,
        name: object = None,
        return_handle: Literal[False, True] = False,
    ) -> Any:
        nursery = self._active_nursery()
        starter = _Starter(func, args, get_callable_name(func, name))
        value = await nursery.start(starter.run, name=starter.name)
        if return_handle:
            handle = starter.handle
            assert handle is not None
            handle._start_value = value
            return handle
        return value


def _start_soon(
    self: TaskGroup, func: Callable[..., Any], *args: object, name: object = None
) -> None:
    self._active_nursery().start_soon(func, *args, name=name)


if TaskHandle is None:
    # anyio < 4.14 has no create_task() behind start_soon(): the backend defines
    # start_soon itself. Attached after the class body because the newest anyio's
    # stubs mark start_soon final, and on those releases this never runs. anyio
    # declares it abstract there, so the class's abstract set must be refreshed.
    setattr(TaskGroup, "start_soon", _start_soon)  # noqa: B010
    abc.update_abstractmethods(TaskGroup)
